//! A cap on the length of one input line, so that an input without line ends (`/dev/zero`, a
//! truncated or hostile file) is refused at the first overlong line, naming the file and the
//! line, instead of being read into memory until the allocator gives up.
//!
//! [`Limited`] checks the bytes as they pass from the file to whichever parser reads them; a
//! parser's buffers then never hold more than one line of the limit's length.

use crate::error::InputError;
use std::io::Read;
use std::path::Path;

/// The longest line an input may have, in bytes (line end not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxLineLength(pub u64);

impl MaxLineLength {
    pub const DEFAULT: MaxLineLength = MaxLineLength(1 << 20);
}

impl Default for MaxLineLength {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for MaxLineLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if n >= size && n % size == 0 {
                return write!(f, "{} {unit}", n / size);
            }
        }
        write!(f, "{n} bytes")
    }
}

impl std::str::FromStr for MaxLineLength {
    type Err = String;

    /// Bytes, or a number with KiB, MiB, GiB (1024-based) or KB, MB, GB (1000-based).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let unit_size: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kib" | "k" => 1 << 10,
            "mib" | "m" => 1 << 20,
            "gib" | "g" => 1 << 30,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {s:?}; give bytes, or KiB, MiB, GiB, KB, MB, GB"
                ))
            }
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{s:?} is not a size such as 1048576, 1MiB or 4MB"))?;
        match n.checked_mul(unit_size) {
            Some(0) => Err("a line length must be at least 1 byte".into()),
            Some(bytes) => Ok(MaxLineLength(bytes)),
            None => Err(format!("{s:?} is too large")),
        }
    }
}

/// The error a [`Limited`] reader fails with, inside an [`std::io::Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the line is longer than {limit} (a file without line ends?); \
     raise --max-line-length if it is meant to be this long"
)]
pub struct LineTooLong {
    pub line: u64,
    pub limit: MaxLineLength,
}

/// A reader that fails with [`LineTooLong`] as soon as a line passes the limit.
pub struct Limited<R> {
    inner: R,
    limit: u64,
    /// The line being read (1-based) and its bytes so far.
    line: u64,
    len: u64,
}

impl<R> Limited<R> {
    pub fn new(inner: R, limit: MaxLineLength) -> Self {
        Limited {
            inner,
            limit: limit.0,
            line: 1,
            len: 0,
        }
    }

    fn too_long(&self) -> std::io::Error {
        let err = LineTooLong {
            line: self.line,
            limit: MaxLineLength(self.limit),
        };
        std::io::Error::new(std::io::ErrorKind::InvalidData, err)
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf[..n]) {
            if self.len + (end - start) as u64 > self.limit {
                return Err(self.too_long());
            }
            self.line += 1;
            self.len = 0;
            start = end + 1;
        }
        self.len += (n - start) as u64;
        if self.len > self.limit {
            return Err(self.too_long());
        }
        Ok(n)
    }
}

/// The input error for a failed read of `path`: a line too long names its line.
pub fn input_error(path: &Path, source: std::io::Error) -> InputError {
    match source
        .get_ref()
        .and_then(|e| e.downcast_ref::<LineTooLong>())
    {
        Some(long) => InputError::Line {
            path: path.to_path_buf(),
            line: long.line,
            reason: long.to_string(),
        },
        None => InputError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Reads all of `reader` (a file or standard input named `path`, `size` bytes if known),
/// refusing an overlong line.
pub fn read_all(
    reader: impl Read,
    path: &Path,
    limit: MaxLineLength,
    size: Option<u64>,
) -> Result<Vec<u8>, InputError> {
    // Sized up front as `std::fs::read` would: growing by doubling could take twice the file.
    let mut bytes = Vec::with_capacity(size.map_or(0, |n| usize::try_from(n).unwrap_or(0)));
    Limited::new(reader, limit)
        .read_to_end(&mut bytes)
        .map_err(|e| input_error(path, e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8], limit: u64) -> Result<Vec<u8>, InputError> {
        read_all(text, Path::new("f.csv"), MaxLineLength(limit), None)
    }

    #[test]
    fn lines_up_to_the_limit_pass_and_the_first_longer_one_is_named() {
        assert_eq!(read(b"abc\nabcd\n\nab", 4).unwrap(), b"abc\nabcd\n\nab");
        let err = read(b"abc\nabcd\nabcde\nx\n", 4).unwrap_err().to_string();
        assert!(
            err.starts_with("f.csv:3: the line is longer than 4 bytes"),
            "{err}"
        );
        let err = read(b"ok\nno end at all", 4).unwrap_err().to_string();
        assert!(err.starts_with("f.csv:2: "), "{err}");
    }

    #[test]
    fn an_endless_line_stops_after_the_limit() {
        let zeros = std::io::repeat(0);
        let err = read_all(zeros, Path::new("z"), MaxLineLength(1 << 16), None).unwrap_err();
        assert!(matches!(err, InputError::Line { line: 1, .. }), "{err}");
    }

    #[test]
    fn sizes() {
        let p = |s: &str| s.parse::<MaxLineLength>().map(|m| m.0);
        assert_eq!(p("1048576"), Ok(1 << 20));
        assert_eq!(p("1MiB"), Ok(1 << 20));
        assert_eq!(p("4 MB"), Ok(4_000_000));
        assert_eq!(p("64k"), Ok(65_536));
        assert!(p("0").is_err());
        assert!(p("1.5MiB").is_err());
        assert!(p("3 parsecs").is_err());
        assert_eq!(MaxLineLength::DEFAULT.to_string(), "1 MiB");
        assert_eq!(MaxLineLength(1000).to_string(), "1000 bytes");
    }
}
