//! The shared secret of `serve --token-file` and `send --token-file`: read from a file (so it
//! is never on a command line, where `ps` shows it) and compared in constant time.

use crate::error::UsageError;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// A bearer token; its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// The file's first line, without surrounding white space: a clear error (exit 2) when it
    /// cannot be read, is empty, or holds characters an HTTP header cannot carry.
    pub fn read(path: &Path) -> Result<Token, UsageError> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--token-file {shown}: cannot read it: {e}")))?;
        let token = text.lines().next().unwrap_or_default().trim();
        if token.is_empty() {
            return Err(UsageError(format!(
                "--token-file {shown}: the file is empty; write the token on its first line"
            )));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UsageError(format!(
                "--token-file {shown}: the token may only hold visible ASCII characters \
                 (no spaces), as an Authorization header must"
            )));
        }
        Ok(Token(token.into()))
    }

    /// The `Authorization` header value that carries it.
    pub(crate) fn header_value(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Whether `offered` is this token. The time taken depends only on the lengths, never on
    /// where the first differing byte is.
    pub(crate) fn matches(&self, offered: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(offered).into()
    }

    /// Whether an `Authorization` header value (`Bearer <token>`) carries this token.
    pub(crate) fn authorizes(&self, header: &[u8]) -> bool {
        let scheme = header.get(..7);
        scheme.is_some_and(|s| s.eq_ignore_ascii_case(b"bearer ")) && self.matches(&header[7..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_is_read_checked_and_matched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "s3cret-T0ken\n").unwrap();
        let t = Token::read(&path).unwrap();
        assert!(t.authorizes(b"Bearer s3cret-T0ken"));
        assert!(t.authorizes(b"bearer s3cret-T0ken"));
        assert!(!t.authorizes(b"Bearer s3cret-T0ke"));
        assert!(!t.authorizes(b"Bearer s3cret-T0kenX"));
        assert!(!t.authorizes(b"Basic s3cret-T0ken"));
        assert!(!t.authorizes(b""));
        assert_eq!(format!("{t:?}"), "Token(***)");
        std::fs::write(&path, "\n").unwrap();
        assert!(Token::read(&path).unwrap_err().0.contains("empty"));
        std::fs::write(&path, "a b\n").unwrap();
        assert!(Token::read(&path).unwrap_err().0.contains("visible ASCII"));
        assert!(Token::read(&dir.path().join("none")).is_err());
    }
}
