//! Tests of `csv`.

use super::number::NumError;
use super::*;

fn load_str(text: &[u8]) -> Result<Workload, InputError> {
    load_reader(text, Path::new("in.csv"), Micros(1_000))
}

/// Asserts a line error: its line number and a fragment of its reason.
fn assert_line_error(text: &[u8], line: u64, fragment: &str) {
    match load_str(text) {
        Err(InputError::Line {
            path,
            line: got,
            reason,
        }) => {
            assert_eq!(path, Path::new("in.csv"));
            assert_eq!(got, line, "wrong line for: {reason}");
            assert!(reason.contains(fragment), "{reason:?} lacks {fragment:?}");
        }
        other => panic!("expected a line error, got {other:?}"),
    }
}

fn rows(w: &Workload) -> Vec<(u64, u64, u64)> {
    w.indexes()
        .map(|e| {
            let a = w.account_id(w.account_of(e)).0;
            (w.event_id(e).0, a, w.duration(e).0)
        })
        .collect()
}

#[test]
fn loads_rows_in_arrival_order() {
    let w = load_str(b"event_id,account_id\n1,10\n2,20\n3,10\n").unwrap();
    assert_eq!(
        rows(&w),
        vec![(1, 10, 1_000), (2, 20, 1_000), (3, 10, 1_000)]
    );
    assert_eq!(w.source(), &Source::File(PathBuf::from("in.csv")));
    assert!(!w.has_per_event_durations());
}

#[test]
fn columns_in_any_order_extra_columns_ignored() {
    let text = "note,account_id,x,event_id\n\"a, b\",7,ü,9\n,8,,3\n";
    let w = load_str(text.as_bytes()).unwrap();
    assert_eq!(rows(&w), vec![(9, 7, 1_000), (3, 8, 1_000)]);
}

#[test]
fn duration_column_gives_per_event_durations() {
    let w = load_str(b"event_id,duration_us,account_id\n1,250,5\n2,0,5\n").unwrap();
    assert_eq!(rows(&w), vec![(1, 5, 250), (2, 5, 0)]);
    assert_eq!(
        w.durations(),
        &Durations::PerEvent(vec![Micros(250), Micros(0)])
    );
}

#[test]
fn header_only_is_an_empty_workload() {
    let w = load_str(b"event_id,account_id\n").unwrap();
    assert!(w.is_empty());
    assert!(load_str(b"account_id,event_id").unwrap().is_empty());
}

#[test]
fn crlf_bom_and_quotes_are_accepted() {
    let w = load_str(b"\xEF\xBB\xBFevent_id,account_id\r\n1,2\r\n\"3\",4\r\n").unwrap();
    assert_eq!(rows(&w), vec![(1, 2, 1_000), (3, 4, 1_000)]);
    let w = load_str(b"\xEF\xBB\xBF\"event_id\",\"account_id\"\n1,2").unwrap();
    assert_eq!(w.len(), 1);
}

#[test]
fn error_lines_are_exact_with_crlf_and_blank_lines() {
    assert_line_error(b"event_id,account_id\r\n1,2\r\n2,x\r\n", 3, "\"x\"");
    assert_line_error(b"event_id,account_id\r\n1,2\r\n\r\n\r\n2,x\r\n", 5, "\"x\"");
    assert_line_error(b"\nevent_id,account_id\n\n1,2\n\n3\n", 6, "got 1");
    assert_line_error(
        b"event_id,account_id\r\n1,\"a\r\nb\"\r\n",
        2,
        "\"a\\r\\nb\"",
    );
    assert_line_error(b"\r\n\r\nevent_id,x\r\n", 3, "no \"account_id\"");
}

/// Hands out at most a few bytes per read, as pipes and sockets may.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 3 + 1;
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn lines_stay_exact_across_buffer_refills() {
    let big = "x\r\n".repeat(40_000);
    let text = format!(
        "event_id,account_id,note\r\n1,1,\"{big}\"\r\n\r\n2,1,a\r\n3,1,\"{big}\"\n4,-1,b\n"
    );
    // Row 1 starts on line 2 and ends 40,000 newlines later; a blank line, row 2, then row 3
    // spans another 40,000 newlines.
    let line = 2 + 40_000 + 2 + 1 + 40_000 + 1;
    for trickle in [false, true] {
        let res = if trickle {
            load_reader(Trickle(text.as_bytes(), 0), Path::new("in.csv"), Micros(1))
        } else {
            load_str(text.as_bytes())
        };
        match res {
            Err(InputError::Line {
                line: got, reason, ..
            }) => {
                assert_eq!(got, line, "{reason}");
                assert!(reason.contains("negative"));
            }
            other => panic!("expected a line error, got {other:?}"),
        }
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = Path::new("/nonexistent/eventbench/events.csv");
    let err = load(path, Micros(1)).unwrap_err();
    assert!(matches!(err, InputError::Io { .. }), "{err:?}");
    assert!(err
        .to_string()
        .contains("/nonexistent/eventbench/events.csv"));
}

#[test]
fn load_reads_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.csv");
    let text: String = std::iter::once("event_id,account_id\n".to_owned())
        .chain((1..=3_000).map(|i| format!("{i},{}\n", i % 7)))
        .collect();
    std::fs::write(&path, text).unwrap();
    let w = load(&path, Micros(5)).unwrap();
    assert_eq!(w.len(), 3_000);
    assert_eq!(w.account_count(), 7);
    assert_eq!(w.source(), &Source::File(path));
}

#[test]
fn empty_file() {
    assert_line_error(b"", 1, "empty file");
    assert_line_error(b"\n\n", 1, "empty file");
}

#[test]
fn header_missing_a_column_names_it() {
    assert_line_error(b"event_id,acct\n1,2\n", 1, "no \"account_id\" column");
    assert_line_error(b"account_id\n1\n", 1, "no \"event_id\" column");
    assert_line_error(b"event_id,Account_ID\n1,2\n", 1, "must match exactly");
}

#[test]
fn duplicate_header_column() {
    assert_line_error(
        b"event_id,account_id,event_id\n1,2,3\n",
        1,
        "duplicate column \"event_id\" in the header (columns 1 and 3)",
    );
}

#[test]
fn non_integer_value_is_quoted_with_its_column() {
    assert_line_error(
        b"event_id,account_id\n1,2\n2,abc\n",
        3,
        "account_id \"abc\" is not an unsigned integer",
    );
    assert_line_error(b"event_id,account_id\n1.5,2\n", 2, "event_id \"1.5\"");
    assert_line_error(b"event_id,account_id\n+1,2\n", 2, "not an unsigned integer");
    assert_line_error(b"event_id,account_id\n1 1,2\n", 2, "event_id \"1 1\"");
}

#[test]
fn spaces_around_values_and_names_are_trimmed() {
    let w = load_str(b" account_id ,event_id,\tduration_us\n 7, 1 ,5\t\n8 ,2, 6\n").unwrap();
    assert_eq!(rows(&w), vec![(1, 7, 5), (2, 8, 6)]);
    assert_line_error(b"event_id,account_id\n1,  \n", 2, "account_id is empty");
}

#[test]
fn negative_number() {
    assert_line_error(
        b"event_id,account_id\n1,-4\n",
        2,
        "account_id \"-4\" is negative",
    );
}

#[test]
fn empty_field() {
    assert_line_error(b"event_id,account_id\n1,\n", 2, "account_id is empty");
    assert_line_error(b"event_id,account_id\n,1\n", 2, "event_id is empty");
}

#[test]
fn short_row() {
    assert_line_error(
        b"event_id,account_id\n1,2\n3\n",
        3,
        "expected 2 fields (as many as the header has), got 1",
    );
}

#[test]
fn too_many_fields() {
    assert_line_error(
        b"event_id,account_id\n1,2,3\n",
        2,
        "expected 2 fields (as many as the header has), got 3",
    );
}

#[test]
fn u64_overflow() {
    assert_line_error(
        b"event_id,account_id\n18446744073709551615,1\n18446744073709551616,1\n",
        3,
        "is too large",
    );
    assert_line_error(
        b"event_id,account_id\n1,99999999999999999999999\n",
        2,
        "account_id \"99999999999999999999999\" is too large",
    );
}

#[test]
fn duplicate_event_id_in_increasing_file() {
    assert_line_error(
        b"event_id,account_id\n1,1\n2,1\n2,3\n",
        4,
        "duplicate event_id 2 (first used on line 3)",
    );
}

#[test]
fn duplicate_event_id_in_unordered_file_reports_the_earliest() {
    let text = b"event_id,account_id\n5,1\n3,1\n9,1\n3,2\n5,2\n";
    assert_line_error(text, 5, "duplicate event_id 3 (first used on line 3)");
}

#[test]
fn duplicate_lines_account_for_blank_lines_and_quoted_newlines() {
    let text = b"event_id,account_id,note\n7,1,x\n\n4,1,\"two\nlines\"\n\n\n7,2,y\n";
    assert_line_error(text, 8, "duplicate event_id 7 (first used on line 2)");
}

#[test]
fn non_utf8_bytes() {
    assert_line_error(
        b"event_id,account_id,note\n1,2,ok\n2,3,\xFF\xFE\n",
        3,
        "column \"note\" has bytes that are not valid UTF-8",
    );
    assert_line_error(
        b"event_id,account_id,n\xE9\n",
        1,
        "header column 3 is not valid UTF-8",
    );
}

#[test]
fn bad_durations() {
    let h = "event_id,account_id,duration_us\n";
    let case = |row: &str| format!("{h}1,1,5\n{row}\n").into_bytes();
    assert_line_error(
        &case("2,1,1.5"),
        3,
        "duration_us \"1.5\" is not an unsigned integer (whole microseconds)",
    );
    assert_line_error(&case("2,1,-3"), 3, "duration_us \"-3\" is negative");
    assert_line_error(
        &case("2,1,18446744073709551616"),
        3,
        "duration_us \"18446744073709551616\" is too large",
    );
    assert_line_error(&case("2,1,"), 3, "duration_us is empty");
}

#[test]
fn parse_u64_edges() {
    assert_eq!(parse_u64(b"0"), Ok(0));
    assert_eq!(parse_u64(b"007"), Ok(7));
    assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
    assert_eq!(parse_u64(b"00000000000000000000000042"), Ok(42));
    assert_eq!(parse_u64(b"18446744073709551616"), Err(NumError::Overflow));
    assert_eq!(parse_u64(b"-"), Err(NumError::NotInteger));
    assert_eq!(parse_u64(b"-0"), Err(NumError::Negative));
    assert_eq!(parse_u64(b"1e3"), Err(NumError::NotInteger));
    assert_eq!(
        parse_u64(b"123456789012345678901x"),
        Err(NumError::NotInteger)
    );
    assert_eq!(parse_u64(b""), Err(NumError::Empty));
}
