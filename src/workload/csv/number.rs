//! The numbers of an events CSV: parsed by hand from bytes (no `String` per field), and
//! described in words when they are not unsigned integers.

use super::DURATION_US;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NumError {
    Empty,
    Negative,
    NotInteger,
    Overflow,
}

/// Parses an unsigned decimal integer: ASCII digits only (no sign, no spaces; callers trim).
#[inline]
pub(super) fn parse_u64(raw: &[u8]) -> Result<u64, NumError> {
    // Up to 19 digits cannot overflow, which keeps the common path free of checks.
    if raw.is_empty() {
        return Err(NumError::Empty);
    }
    let mut v: u64 = 0;
    if raw.len() <= 19 {
        for &c in raw {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return Err(classify(raw));
            }
            v = v * 10 + u64::from(d);
        }
        return Ok(v);
    }
    if !raw.iter().all(u8::is_ascii_digit) {
        return Err(classify(raw));
    }
    for &c in raw {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(NumError::Overflow)?;
    }
    Ok(v)
}

#[cold]
fn classify(raw: &[u8]) -> NumError {
    match raw.split_first() {
        Some((b'-', rest)) if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) => {
            NumError::Negative
        }
        _ => NumError::NotInteger,
    }
}

#[cold]
pub(super) fn describe(column: &str, raw: &[u8], err: NumError) -> String {
    let text = String::from_utf8_lossy(raw);
    let shown: String = if text.chars().count() > 40 {
        text.chars().take(40).chain("…".chars()).collect()
    } else {
        text.into_owned()
    };
    let unit = if column == DURATION_US {
        " (whole microseconds)"
    } else {
        ""
    };
    match err {
        NumError::Empty => format!("{column} is empty"),
        NumError::Negative => format!("{column} {shown:?} is negative; it must be unsigned{unit}"),
        NumError::Overflow => format!("{column} {shown:?} is too large (at most {})", u64::MAX),
        NumError::NotInteger => {
            format!("{column} {shown:?} is not an unsigned integer{unit}")
        }
    }
}
