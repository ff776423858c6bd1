//! The processed log CSV (`--log`): one row per processed event, what actually happened.

use crate::engine::record::Records;
use crate::output::AtomicFile;
use crate::workload::Workload;
use anyhow::Result;
use std::io::Write;
use std::path::Path;

pub(crate) const HEADER: &str = "account_id,event_id,worker,start_us,end_us";

/// Writes the log atomically, rows in arrival order; events that never ran have no row.
pub(crate) fn write(path: &Path, w: &Workload, records: &Records) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write_rows(file.writer(), w, records)?;
    file.commit()
}

/// Writes the header and rows to any writer.
pub(crate) fn write_rows(
    out: &mut impl Write,
    w: &Workload,
    records: &Records,
) -> std::io::Result<()> {
    writeln!(out, "{HEADER}")?;
    let mut buf = itoa::Buffer::new();
    for e in w.indexes() {
        let Some(r) = records.get(e) else { continue };
        let fields = [
            w.account_id(w.account_of(e)).0,
            w.event_id(e).0,
            u64::from(records.lane(e, w).0),
            r.start.0,
            r.end.0,
        ];
        for (i, v) in fields.into_iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(buf.format(v).as_bytes())?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AccountId, EventId, EventIdx, LaneId, Micros};
    use crate::workload::Source;

    #[test]
    fn rows_follow_arrival_order_and_skip_unrun_events() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(5));
        w.push(EventId(10), AccountId(1), None);
        w.push(EventId(11), AccountId(2), None);
        w.push(EventId(12), AccountId(1), None);
        let mut r = Records::batch(3);
        r.set(EventIdx(0), Micros(0), Micros(5), LaneId(0));
        r.set(EventIdx(2), Micros(5), Micros(10), LaneId(1));
        let mut out = Vec::new();
        write_rows(&mut out, &w, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "account_id,event_id,worker,start_us,end_us\n1,10,0,0,5\n1,12,1,5,10\n"
        );
    }
}
