//! Reading another system's processed log, line by line: our own CSV, any CSV naming
//! `account_id` and `event_id`, or free text read with a regular expression.
//!
//! The whole file is read at once and split with memchr-backed `lines()`; numbers are parsed
//! without allocating, so ten million lines take seconds.

use super::time::{Resolution, TimeFormat, TimeParser};
use crate::error::{InputError, UsageError};
use crate::types::{AccountId, EventId};
use crate::workload::line_limit::{self, MaxLineLength};
use regex::Regex;
use std::path::{Path, PathBuf};

/// Lines that matched nothing are shown up to this many.
const EXAMPLES: usize = 5;

/// One processed event as the log tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line in the log.
    pub line: u64,
    pub event: EventId,
    pub account: AccountId,
    /// Microseconds (unix, or the log's own origin for relative numbers).
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// How to read the log (`--log-pattern`, `--time-format`).
#[derive(Clone, Debug)]
pub struct LogSpec {
    pub pattern: Option<Pattern>,
    pub time: TimeFormat,
}

/// A validated `--log-pattern`: named groups `account_id` and `event_id`, optionally `start`,
/// `end` (or `time`, the same as `end`: a single timestamp is when the event was done).
#[derive(Clone, Debug)]
pub struct Pattern {
    regex: Regex,
    account: usize,
    event: usize,
    start: Option<usize>,
    end: Option<usize>,
}

impl std::str::FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let regex = Regex::new(s).map_err(|e| format!("invalid regular expression: {e}"))?;
        let group = |name: &str| regex.capture_names().position(|n| n == Some(name));
        let need = |name: &str| {
            group(name).ok_or_else(|| {
                format!("the pattern needs a named group (?P<{name}>...), e.g. (?P<{name}>\\d+)")
            })
        };
        Ok(Pattern {
            account: need("account_id")?,
            event: need("event_id")?,
            start: group("start"),
            end: group("end").or_else(|| group("time")),
            regex,
        })
    }
}

/// Which of our formats the log turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `account_id,event_id,worker,start_us,end_us`: exact microseconds since the run started.
    Eventbench,
    Csv,
    Pattern,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Eventbench => "eventbench CSV",
            LogFormat::Csv => "CSV",
            LogFormat::Pattern => "text, --log-pattern",
        }
    }
}

/// What reading the log found besides its entries.
#[derive(Clone, Debug)]
pub struct LogSummary {
    pub path: PathBuf,
    pub format: LogFormat,
    pub lines: u64,
    pub unmatched: u64,
    /// The first few unmatched lines: (line, text).
    pub unmatched_examples: Vec<(u64, String)>,
    pub has_start: bool,
    pub has_end: bool,
    /// The times are unix time (absolute) rather than relative to the run's start.
    pub absolute: bool,
    pub resolution: Resolution,
}

/// Reads `path` (`-`: standard input), handing every entry to `sink` in line order; a line
/// longer than `max_line` is an error naming it, found before the rest is read.
pub fn read(
    path: &Path,
    spec: &LogSpec,
    max_line: MaxLineLength,
    sink: impl FnMut(Entry),
) -> Result<LogSummary, InputError> {
    let input = crate::workload::open_input(path)?;
    let bytes = line_limit::read_all(input.reader, &input.name, max_line, input.size)?;
    read_bytes(&bytes, &input.name, spec, sink)
}

/// Reads log text already in memory; `path` names it in errors.
pub fn read_bytes(
    bytes: &[u8],
    path: &Path,
    spec: &LogSpec,
    sink: impl FnMut(Entry),
) -> Result<LogSummary, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| InputError::Line {
        path: path.to_path_buf(),
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64,
        reason: "not UTF-8 text".into(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader {
        path,
        times: TimeParser::new(spec.time.clone()),
        summary: LogSummary {
            path: path.to_path_buf(),
            format: LogFormat::Pattern,
            lines: 0,
            unmatched: 0,
            unmatched_examples: Vec::new(),
            has_start: false,
            has_end: false,
            absolute: false,
            resolution: Resolution::coarsest(),
        },
    };
    match &spec.pattern {
        Some(p) => reader.pattern(text, p, sink)?,
        None => reader.csv(text, sink)?,
    }
    Ok(reader.summary)
}

struct Reader<'a> {
    path: &'a Path,
    times: TimeParser,
    summary: LogSummary,
}

/// Column positions of a CSV log, and whether its times are plain microseconds.
struct Columns {
    account: usize,
    event: usize,
    start: Option<(usize, bool)>,
    end: Option<(usize, bool)>,
    width: usize,
}

impl Reader<'_> {
    fn error(&self, line: u64, reason: impl Into<String>) -> InputError {
        InputError::Line {
            path: self.path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }

    fn csv(&mut self, text: &str, mut sink: impl FnMut(Entry)) -> Result<(), InputError> {
        let mut lines = (1u64..).zip(text.lines());
        let Some((_, header)) = lines.by_ref().find(|(_, l)| !l.trim().is_empty()) else {
            return Ok(());
        };
        let cols = self.header(header)?;
        let mut fields: Vec<&str> = Vec::with_capacity(cols.width);
        for (n, line) in lines {
            self.summary.lines = n;
            if line.trim().is_empty() {
                continue;
            }
            fields.clear();
            fields.extend(line.split(',').map(unquote));
            if fields.len() < cols.width {
                return Err(self.error(
                    n,
                    format!("{} fields, the header has {}", fields.len(), cols.width),
                ));
            }
            let id = |i: usize, what: &str| {
                fields[i]
                    .parse::<u64>()
                    .map_err(|_| self.error(n, format!("{what} '{}' is not a number", fields[i])))
            };
            let entry = Entry {
                line: n,
                account: AccountId(id(cols.account, "account_id")?),
                event: EventId(id(cols.event, "event_id")?),
                start: self.csv_time(n, cols.start.map(|(i, us)| (fields[i], us)))?,
                end: self.csv_time(n, cols.end.map(|(i, us)| (fields[i], us)))?,
            };
            sink(entry);
        }
        Ok(())
    }

    fn header(&mut self, header: &str) -> Result<Columns, InputError> {
        let names: Vec<String> = header
            .split(',')
            .map(|f| unquote(f).to_ascii_lowercase())
            .collect();
        let find = |n: &str| names.iter().position(|x| x == n);
        let (Some(account), Some(event)) = (find("account_id"), find("event_id")) else {
            return Err(self.error(
                1,
                "the first line is not a CSV header naming account_id and event_id; \
                 for a text log give --log-pattern",
            ));
        };
        let time = |plain: &str, us: &str| {
            find(us)
                .map(|i| (i, true))
                .or_else(|| find(plain).map(|i| (i, false)))
        };
        let cols = Columns {
            account,
            event,
            start: time("start", "start_us"),
            end: time("end", "end_us").or_else(|| find("time").map(|i| (i, false))),
            width: names.len(),
        };
        self.summary.format = if header.trim() == crate::report::processed_log::HEADER {
            self.summary.resolution = Resolution::exact();
            LogFormat::Eventbench
        } else {
            LogFormat::Csv
        };
        self.summary.has_start = cols.start.is_some();
        self.summary.has_end = cols.end.is_some();
        Ok(cols)
    }

    /// A time field: `(text, true)` is plain microseconds (a `*_us` column).
    fn csv_time(
        &mut self,
        line: u64,
        field: Option<(&str, bool)>,
    ) -> Result<Option<i64>, InputError> {
        let Some((text, micros)) = field else {
            return Ok(None);
        };
        if text.is_empty() {
            return Ok(None);
        }
        let us = if micros {
            text.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| self.error(line, format!("'{text}' is not a number of µs")))?
        } else {
            self.times.parse(text).map_err(|e| self.error(line, e))?
        };
        self.saw_time(us);
        Ok(Some(us))
    }

    fn saw_time(&mut self, us: i64) {
        // Unix microseconds after 2001; relative run times never get that large.
        self.summary.absolute |= us >= 1_000_000_000_000_000;
        if self.summary.format != LogFormat::Eventbench {
            self.summary.resolution.see(us);
        }
    }

    fn pattern(
        &mut self,
        text: &str,
        p: &Pattern,
        mut sink: impl FnMut(Entry),
    ) -> Result<(), InputError> {
        let mut locs = p.regex.capture_locations();
        self.summary.format = LogFormat::Pattern;
        for (n, line) in (1u64..).zip(text.lines()) {
            self.summary.lines = n;
            if line.trim().is_empty() {
                continue;
            }
            if p.regex.captures_read(&mut locs, line).is_none() {
                self.unmatched(n, line);
                continue;
            }
            let group = |g: usize| locs.get(g).map(|(a, b)| &line[a..b]);
            let id = |g: usize, what: &str| -> Result<u64, InputError> {
                let t = group(g).unwrap_or("").trim();
                t.parse()
                    .map_err(|_| self.error(n, format!("{what} '{t}' is not a number")))
            };
            let account = AccountId(id(p.account, "account_id")?);
            let event = EventId(id(p.event, "event_id")?);
            let start = self.text_time(n, p.start.and_then(group))?;
            let end = self.text_time(n, p.end.and_then(group))?;
            self.summary.has_start |= start.is_some();
            self.summary.has_end |= end.is_some();
            sink(Entry {
                line: n,
                event,
                account,
                start,
                end,
            });
        }
        Ok(())
    }

    fn text_time(&mut self, line: u64, text: Option<&str>) -> Result<Option<i64>, InputError> {
        match text {
            None => Ok(None),
            Some(t) => {
                let us = self.times.parse(t).map_err(|e| self.error(line, e))?;
                self.saw_time(us);
                Ok(Some(us))
            }
        }
    }

    fn unmatched(&mut self, line: u64, text: &str) {
        self.summary.unmatched += 1;
        if self.summary.unmatched_examples.len() < EXAMPLES {
            let shown: String = text.chars().take(120).collect();
            self.summary.unmatched_examples.push((line, shown));
        }
    }
}

fn unquote(field: &str) -> &str {
    let f = field.trim();
    f.strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(f)
        .trim()
}

/// Checks a `--log-pattern` before any work (clap value parser).
pub fn parse_pattern(s: &str) -> Result<Pattern, UsageError> {
    s.parse().map_err(UsageError)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str, spec: &LogSpec) -> (Vec<Entry>, LogSummary) {
        let mut out = Vec::new();
        let s = read_bytes(text.as_bytes(), Path::new("log"), spec, |e| out.push(e)).unwrap();
        (out, s)
    }

    fn spec(pattern: Option<&str>, time: &str) -> LogSpec {
        LogSpec {
            pattern: pattern.map(|p| p.parse().unwrap()),
            time: time.parse().unwrap(),
        }
    }

    #[test]
    fn our_own_csv_is_exact() {
        let (e, s) = entries(
            "account_id,event_id,worker,start_us,end_us\n7,1,0,0,1000000\n7,2,0,1000000,2000000\n",
            &spec(None, "auto"),
        );
        assert_eq!(s.format, LogFormat::Eventbench);
        assert_eq!(s.resolution.micros(), 1);
        assert!(!s.absolute && s.has_start && s.has_end);
        assert_eq!(e[1].start, Some(1_000_000));
        assert_eq!(
            (e[1].line, e[1].event, e[1].account),
            (3, EventId(2), AccountId(7))
        );
    }

    #[test]
    fn any_csv_with_ids_and_optional_times() {
        let (e, s) = entries(
            "Event_ID, account_id ,end\n\"5\",3,1764299645\n6,3,1764299646\n",
            &spec(None, "auto"),
        );
        assert_eq!(s.format, LogFormat::Csv);
        assert!(s.absolute && !s.has_start && s.has_end);
        assert_eq!(s.resolution.micros(), 1_000_000);
        assert_eq!(e[0].end, Some(1_764_299_645_000_000));
        assert_eq!(e[0].event, EventId(5));
    }

    #[test]
    fn csv_without_ids_or_with_bad_rows_is_refused() {
        let err = |t: &str| {
            read_bytes(
                t.as_bytes(),
                Path::new("x.log"),
                &spec(None, "auto"),
                |_| {},
            )
            .unwrap_err()
            .to_string()
        };
        assert!(err("hello world\n").contains("--log-pattern"));
        assert_eq!(
            err("event_id,account_id\n1,2\n3,x\n"),
            "x.log:3: account_id 'x' is not a number"
        );
        assert!(err("event_id,account_id\n1\n").starts_with("x.log:2: 1 fields"));
    }

    #[test]
    fn text_lines_with_a_pattern_and_unmatched_lines() {
        let s = spec(
            Some(
                r"\[(?P<time>[^\]]+)\] Executed event (?P<event_id>\d+) for account (?P<account_id>\d+)",
            ),
            "%d.%m.%Y %H:%M:%S %z",
        );
        let (e, sum) = entries(
            "starting up\n[28.11.2026 03:14:05 +0000] Executed event 15 for account 413\n\n\
             [28.11.2026 03:14:06 +0000] Executed event 16 for account 413\nbye\n",
            &s,
        );
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].line, e[0].event.0, e[0].account.0), (2, 15, 413));
        assert_eq!(e[0].end, Some(1_795_835_645_000_000));
        assert_eq!(sum.unmatched, 2);
        assert_eq!(sum.unmatched_examples[0], (1, "starting up".to_string()));
        assert_eq!(sum.resolution.micros(), 1_000_000);
    }

    #[test]
    fn patterns_need_both_id_groups() {
        assert!(parse_pattern(r"event (?P<event_id>\d+)").is_err());
        assert!(parse_pattern(r"(").is_err());
    }
}
