//! The `--sent` file written by `send --sent`: when the system accepted each event.

use crate::error::InputError;
use crate::workload::line_limit::{self, MaxLineLength};
use std::path::Path;

/// The header `send --sent` writes.
pub(crate) const HEADER: &str = "event_id,account_id,sent_unix_us,accepted_unix_us,status";

/// One accepted event: `(event id, accepted unix µs)`; rows with a status other than 2xx (the
/// system refused the event) are left out.
/// A line longer than `max_line` is an error naming it.
pub(crate) fn read(path: &Path, max_line: MaxLineLength) -> Result<Vec<(u64, i64)>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let bytes = line_limit::read_all(file, path, max_line, Some(size))?;
    let text = String::from_utf8(bytes).map_err(|e| InputError::Line {
        path: path.to_path_buf(),
        line: 1 + memchr::memchr_iter(b'\n', &e.as_bytes()[..e.utf8_error().valid_up_to()]).count()
            as u64,
        reason: "not valid UTF-8".into(),
    })?;
    parse(&text, path)
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<(u64, i64)>, InputError> {
    let err = |line: u64, reason: String| InputError::Line {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = (1u64..).zip(text.lines());
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h
            .trim_start_matches('\u{feff}')
            .split(',')
            .map(str::trim)
            .collect(),
        None => return Ok(Vec::new()),
    };
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            err(
                1,
                format!("no {name} column (expected the header {HEADER})"),
            )
        })
    };
    let (event, accepted, status) = (col("event_id")?, col("accepted_unix_us")?, col("status")?);
    let mut out = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |i: usize, what: &str| -> Result<u64, InputError> {
            let f = fields.get(i).copied().unwrap_or("");
            f.parse()
                .map_err(|_| err(n, format!("{what} '{f}' is not a number")))
        };
        let code = field(status, "status")?;
        if !(200..300).contains(&code) {
            continue;
        }
        let at = i64::try_from(field(accepted, "accepted_unix_us")?)
            .map_err(|_| err(n, "accepted_unix_us is too large".into()))?;
        out.push((field(event, "event_id")?, at));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_accepted_rows_only() {
        let t = format!("{HEADER}\n1,7,100,150,202\n2,7,160,170,400\n\n3,8,100,190,200\n");
        assert_eq!(parse(&t, Path::new("s")).unwrap(), vec![(1, 150), (3, 190)]);
    }

    #[test]
    fn bad_rows_name_the_line() {
        let t = format!("{HEADER}\n1,7,100,soon,202\n");
        assert_eq!(
            parse(&t, Path::new("s.csv")).unwrap_err().to_string(),
            "s.csv:2: accepted_unix_us 'soon' is not a number"
        );
        assert!(parse("a,b\n", Path::new("s")).is_err());
    }
}
