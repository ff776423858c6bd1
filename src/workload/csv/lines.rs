//! Reading an events CSV byte-exactly: a byte order mark dropped, and the line each record
//! starts on counted, so every error can name its line.

use std::io::Read;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Drops a UTF-8 byte order mark (as some spreadsheet exports write) in front of the header.
pub(super) fn skip_bom<R: Read>(
    mut reader: R,
) -> std::io::Result<std::io::Chain<std::io::Cursor<Vec<u8>>, R>> {
    let mut head = Vec::with_capacity(UTF8_BOM.len());
    (&mut reader)
        .take(UTF8_BOM.len() as u64)
        .read_to_end(&mut head)?;
    if head == UTF8_BOM {
        head.clear();
    }
    Ok(std::io::Cursor::new(head).chain(reader))
}

/// Passes the input through to the csv reader and keeps the bytes that no record has claimed
/// yet, so that each record's first line can be counted exactly.
pub(super) struct LineCounter<R> {
    inner: R,
    pending: Vec<u8>,
    /// Index in `pending` of the first unclaimed byte, which is at input offset `offset`.
    cursor: usize,
    offset: u64,
    /// Line number at `offset`.
    line: u64,
}

impl<R> LineCounter<R> {
    pub(super) fn new(inner: R) -> Self {
        LineCounter {
            inner,
            pending: Vec::new(),
            cursor: 0,
            offset: 0,
            line: 1,
        }
    }

    /// Claims the input up to `end` (just past a record) and returns the record's first line.
    ///
    /// The claimed bytes start with whatever the csv reader skipped before the record: blank
    /// lines, and on CRLF files the previous record's `\n`.
    #[inline]
    pub(super) fn record_line(&mut self, end: u64) -> u64 {
        let unclaimed = self.pending.len() - self.cursor;
        let len = usize::try_from(end.saturating_sub(self.offset))
            .map_or(unclaimed, |l| l.min(unclaimed));
        let bytes = &self.pending[self.cursor..self.cursor + len];
        let skipped = bytes
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .unwrap_or(len);
        let start = self.line + count_newlines(&bytes[..skipped]);
        self.line = start + count_newlines(&bytes[skipped..]);
        self.cursor += len;
        self.offset += len as u64;
        start
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(b == b'\n')).sum()
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // The csv reader asks for more only once it consumed its buffer, so what is left
        // unclaimed here is at most the record in progress: dropping the rest keeps this small.
        self.pending.drain(..self.cursor);
        self.cursor = 0;
        let n = self.inner.read(buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}
