//! Loading an events CSV into a [`Workload`], with one precise error (file, line, reason) for
//! every kind of malformed input.
//!
//! The loader is built for ten-million-row files: fields stay bytes (no `String` per field),
//! numbers are parsed by hand, and duplicate event ids are found without a hash set of all ids.

use self::lines::{skip_bom, LineCounter};
use self::number::{describe, parse_u64};
use super::line_limit::{input_error, Limited, MaxLineLength};
use super::{Durations, Source, Workload};
use crate::error::InputError;
use crate::types::{AccountId, EventId, EventIdx, Micros};
use csv::{ByteRecord, ReaderBuilder};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

const EVENT_ID: &str = "event_id";
const ACCOUNT_ID: &str = "account_id";
const DURATION_US: &str = "duration_us";
/// `Workload` addresses events with `u32` indexes.
const MAX_EVENTS: usize = u32::MAX as usize;

/// Loads an events CSV file, or standard input for `-`; `process_time` is every event's
/// duration unless the file has a `duration_us` column. Lines are limited to the default
/// [`MaxLineLength`].
pub fn load(path: &Path, process_time: Micros) -> Result<Workload, InputError> {
    load_limited(path, process_time, MaxLineLength::DEFAULT)
}

/// [`load`] with a line longer than `max_line` an error naming its line.
pub fn load_limited(
    path: &Path,
    process_time: Micros,
    max_line: MaxLineLength,
) -> Result<Workload, InputError> {
    let input = super::open_input(path)?;
    let reader = Limited::new(input.reader, max_line);
    read(reader, &input.name, process_time, input.size)
}

/// Loads events CSV text from any reader; `path` only names the input in errors and reports.
pub fn load_reader<R: Read>(
    reader: R,
    path: &Path,
    process_time: Micros,
) -> Result<Workload, InputError> {
    let reader = Limited::new(reader, MaxLineLength::DEFAULT);
    read(reader, path, process_time, None)
}

/// Where the needed columns are, learned from the header.
struct Columns {
    names: Vec<String>,
    event: usize,
    account: usize,
    duration: Option<usize>,
}

/// Builds errors that name the input.
struct Errors<'a> {
    path: &'a Path,
}

impl Errors<'_> {
    fn line(&self, line: u64, reason: impl Into<String>) -> InputError {
        InputError::Line {
            path: self.path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    fn io(&self, source: std::io::Error) -> InputError {
        input_error(self.path, source)
    }

    /// Maps a csv error; `line` is where the record that caused it starts.
    fn csv(&self, err: csv::Error, line: u64) -> InputError {
        if let csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } = err.kind()
        {
            return self.line(
                line,
                format!("expected {expected_len} fields (as many as the header has), got {len}"),
            );
        }
        let reason = err.to_string();
        match err.into_kind() {
            csv::ErrorKind::Io(e) => self.io(e),
            _ => self.line(line, reason),
        }
    }
}

type CsvReader<R> = csv::Reader<LineCounter<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>>;

/// Reads the next record and the line it starts on; `Ok(None)` at the end of the input.
#[inline]
fn next_record<R: Read>(
    rdr: &mut CsvReader<R>,
    record: &mut ByteRecord,
    errors: &Errors,
) -> Result<Option<u64>, InputError> {
    let res = rdr.read_byte_record(record);
    // The csv reader's own line numbers lag behind on CRLF files and blank lines, so lines come
    // from the bytes each record consumed (the position is up to date even after an error).
    let end = rdr.position().byte();
    let line = rdr.get_mut().record_line(end);
    match res {
        Ok(true) => Ok(Some(line)),
        Ok(false) => Ok(None),
        Err(e) => Err(errors.csv(e, line)),
    }
}

fn read<R: Read>(
    reader: R,
    path: &Path,
    process_time: Micros,
    size: Option<u64>,
) -> Result<Workload, InputError> {
    let errors = Errors { path };
    let reader = skip_bom(reader).map_err(|e| errors.io(e))?;
    let mut rdr = ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .buffer_capacity(1 << 16)
        .from_reader(LineCounter::new(reader));
    let mut record = ByteRecord::new();
    let Some(header_line) = next_record(&mut rdr, &mut record, &errors)? else {
        return Err(errors.line(
            1,
            "empty file: expected a header row naming event_id and account_id",
        ));
    };
    let cols = parse_header(&record, header_line, &errors)?;
    let durations = match cols.duration {
        Some(_) => Durations::PerEvent(Vec::new()),
        None => Durations::Fixed(process_time),
    };
    let mut loader = Loader {
        errors,
        cols,
        workload: Workload::with_durations(Source::File(PathBuf::from(path)), durations),
        lines: LineMap::default(),
        order: IdOrder::default(),
        total_work: 0,
        raw: true,
    };
    let data_start = rdr.position().byte();
    while let Some(line) = next_record(&mut rdr, &mut record, &loader.errors)? {
        loader.row(&record, line)?;
        if loader.workload.len() == RESERVE_AFTER {
            if let Some(size) = size {
                loader.reserve(size, rdr.position().byte() - data_start);
            }
        }
    }
    loader.finish()
}

/// Rows read before the rest of the file is sized from their average length.
const RESERVE_AFTER: usize = 1024;

fn parse_header(record: &ByteRecord, line: u64, errors: &Errors) -> Result<Columns, InputError> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        // Hand-edited and spreadsheet files often have `event_id, account_id`.
        let name = std::str::from_utf8(raw.trim_ascii()).map_err(|_| {
            errors.line(line, format!("header column {} is not valid UTF-8", i + 1))
        })?;
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(errors.line(
                line,
                format!(
                    "duplicate column {name:?} in the header (columns {} and {})",
                    first + 1,
                    i + 1
                ),
            ));
        }
        names.push(name.to_owned());
    }
    let find = |want: &str| names.iter().position(|n| n == want);
    let require = |want: &str| find(want).ok_or_else(|| errors.line(line, missing(want, &names)));
    Ok(Columns {
        event: require(EVENT_ID)?,
        account: require(ACCOUNT_ID)?,
        duration: find(DURATION_US),
        names,
    })
}

fn missing(want: &str, names: &[String]) -> String {
    let found: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    let mut reason = format!(
        "the header has no {want:?} column (found {}); it must name event_id and account_id",
        found.join(", ")
    );
    if let Some(near) = names.iter().find(|n| n.trim().eq_ignore_ascii_case(want)) {
        reason.push_str(&format!(" — column names must match exactly, not {near:?}"));
    }
    reason
}

/// Maps event indexes back to file lines without storing a line per event: it keeps only the
/// events where the line is not the previous event's line + 1 (blank lines, quoted newlines).
#[derive(Default)]
struct LineMap {
    anchors: Vec<(u32, u64)>,
    next_line: u64,
}

impl LineMap {
    #[inline]
    fn record(&mut self, idx: u32, line: u64) {
        if line != self.next_line {
            self.anchors.push((idx, line));
        }
        self.next_line = line + 1;
    }

    fn line(&self, idx: u32) -> u64 {
        let i = self.anchors.partition_point(|&(a, _)| a <= idx);
        match i.checked_sub(1).map(|i| self.anchors[i]) {
            Some((a, line)) => line + u64::from(idx - a),
            None => 0,
        }
    }
}

/// Tracks whether event ids arrive strictly increasing, which makes them unique for free.
#[derive(Default)]
struct IdOrder {
    last: Option<(u64, u64)>,
    unordered: bool,
}

struct Loader<'a> {
    errors: Errors<'a>,
    cols: Columns,
    workload: Workload,
    lines: LineMap,
    order: IdOrder,
    /// Sum of `duration_us` so far: kept below 2^64 µs, so that no schedule's clock (never
    /// later than the total work) and no per-account sum can overflow.
    total_work: u64,
    /// Account ids are kept raw while every one so far fits in 32 bits, and mapped to
    /// indexes at the end in one pass (see `workload::resolve`): a lookup per row here would
    /// cost a cache miss per event that the parsing makes worse.
    raw: bool,
}

impl Loader<'_> {
    #[inline]
    fn row(&mut self, record: &ByteRecord, line: u64) -> Result<(), InputError> {
        if !record.as_slice().is_ascii() {
            self.check_utf8(record, line)?;
        }
        let event = self.number(record, self.cols.event, line)?;
        let account = self.number(record, self.cols.account, line)?;
        let duration = match self.cols.duration {
            Some(col) => Some(Micros(self.duration(record, col, line)?)),
            None => None,
        };
        if !self.order.unordered {
            match self.order.last {
                Some((prev, prev_line)) if event == prev => {
                    return Err(self.duplicate(event, prev_line, line));
                }
                Some((prev, _)) if event < prev => self.order.unordered = true,
                _ => self.order.last = Some((event, line)),
            }
        }
        let index = self.workload.len();
        if index >= MAX_EVENTS {
            return Err(self.errors.line(
                line,
                format!("too many events: at most {MAX_EVENTS} fit in one workload"),
            ));
        }
        self.lines.record(index as u32, line);
        let id = EventId(event);
        match u32::try_from(account) {
            Ok(raw) if self.raw => self.workload.push_raw(id, raw, duration),
            _ => {
                // An id past 32 bits: the ids so far are resolved, the rest looked up as read.
                self.raw = false;
                self.workload.push(id, AccountId(account), duration);
            }
        }
        Ok(())
    }

    #[inline]
    fn duration(&mut self, record: &ByteRecord, col: usize, line: u64) -> Result<u64, InputError> {
        let d = self.number(record, col, line)?;
        self.total_work = self.total_work.checked_add(d).ok_or_else(|| {
            self.errors.line(
                line,
                format!(
                    "duration_us {d} brings the total processing time past 2^64 µs \
                     (about 584,542 years)"
                ),
            )
        })?;
        Ok(d)
    }

    #[inline]
    fn number(&self, record: &ByteRecord, col: usize, line: u64) -> Result<u64, InputError> {
        // Spaces around a value (`2, 6`) are common in hand-edited files and mean nothing;
        // trimming here costs no allocation, unlike the csv reader's own `Trim`.
        let raw = record.get(col).unwrap_or_default().trim_ascii();
        parse_u64(raw).map_err(|e| {
            self.errors
                .line(line, describe(&self.cols.names[col], raw, e))
        })
    }

    #[cold]
    fn check_utf8(&self, record: &ByteRecord, line: u64) -> Result<(), InputError> {
        for (col, raw) in record.iter().enumerate() {
            if let Err(e) = std::str::from_utf8(raw) {
                let name = self.cols.names.get(col).map_or("?", String::as_str);
                return Err(self.errors.line(
                    line,
                    format!(
                        "column {name:?} has bytes that are not valid UTF-8 (at byte {} of the field)",
                        e.valid_up_to() + 1
                    ),
                ));
            }
        }
        Ok(())
    }

    #[cold]
    fn duplicate(&self, id: u64, first_line: u64, line: u64) -> InputError {
        self.errors.line(
            line,
            format!("duplicate event_id {id} (first used on line {first_line})"),
        )
    }

    /// Sizes the columns for the whole file from the average length of the rows read so far;
    /// a generous margin, since an underestimate costs a doubling copy and an overestimate
    /// only untouched (never resident) address space.
    fn reserve(&mut self, file_size: u64, bytes_read: u64) {
        let rows = self.workload.len() as u64;
        let per_row = (bytes_read / rows.max(1)).max(1);
        let left = file_size.saturating_sub(bytes_read) / per_row;
        let estimate = left.saturating_add(left / 8).saturating_add(16);
        self.workload
            .reserve(usize::try_from(estimate.min(MAX_EVENTS as u64)).unwrap_or(0));
    }

    fn finish(mut self) -> Result<Workload, InputError> {
        self.workload.resolve_accounts();
        if self.order.unordered {
            if let Some((first, dup)) = first_duplicate(&self.workload) {
                let id = self.workload.event_id(EventIdx(dup)).0;
                return Err(self.duplicate(id, self.lines.line(first), self.lines.line(dup)));
            }
        }
        Ok(self.workload)
    }
}

/// The earliest event (in arrival order) whose id was already used, with that first use.
///
/// Sorting a copy of the ids finds which ids repeat at 8 bytes per event; only those few ids
/// then go into a map for the ordered scan that names the lines.
fn first_duplicate(w: &Workload) -> Option<(u32, u32)> {
    let mut sorted: Vec<u64> = w.indexes().map(|e| w.event_id(e).0).collect();
    sorted.sort_unstable();
    let repeated: HashSet<u64> = sorted
        .windows(2)
        .filter(|p| p[0] == p[1])
        .map(|p| p[0])
        .collect();
    drop(sorted);
    if repeated.is_empty() {
        return None;
    }
    let mut seen: HashMap<u64, u32> = HashMap::with_capacity(repeated.len());
    for e in w.indexes() {
        let id = w.event_id(e).0;
        if repeated.contains(&id) {
            if let Some(&first) = seen.get(&id) {
                return Some((first, e.0));
            }
            seen.insert(id, e.0);
        }
    }
    None
}

mod lines;
mod number;
#[cfg(test)]
mod tests;
