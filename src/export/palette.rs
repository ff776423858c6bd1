//! The one palette of the sweep charts: each strategy has its colour in compare.svg and in
//! the HTML pages alike (the page gets this table in its data), so a chart can be compared
//! with another by eye.

use crate::engine::Strategy;
use serde_json::{json, Value};

/// A strategy's colour as `(r, g, b)`; mid tones that read on a light and a dark page.
pub(crate) fn colour(s: Strategy) -> (u8, u8, u8) {
    match s {
        Strategy::Sharded => (0xd1, 0x49, 0x5b),
        Strategy::Pool => (0x2f, 0x6f, 0xde),
        Strategy::Optimal => (0x1b, 0x9e, 0x77),
        Strategy::PerAccount => (0x7a, 0x51, 0x95),
        Strategy::External => (0x6c, 0x75, 0x7d),
    }
}

/// `#d1495b`.
pub(crate) fn hex(s: Strategy) -> String {
    let (r, g, b) = colour(s);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// `{"sharded": "#d1495b", …}` for the page's script.
pub(crate) fn table() -> Value {
    let mut m = serde_json::Map::new();
    for s in Strategy::ALL.into_iter().chain([Strategy::External]) {
        m.insert(s.to_string(), json!(hex(s)));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_has_its_own_colour() {
        let t = table();
        assert_eq!(t["sharded"], "#d1495b");
        let mut all: Vec<&str> = t
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
