//! The store's checks of a database it did not write last: what `PRAGMA quick_check` and the
//! list of tables say is wrong, and how a start with `--accept-data-loss` takes over the ids
//! of a high-water mark the database lost.

use super::{sql_error, to_sql, Store, StoreError};
use rangemap::RangeInclusiveSet;
use rusqlite::Connection;

/// The tables of a sound database; a database with some but not all of them lost the others.
const TABLES: [&str; 3] = ["meta", "queue", "accepted"];

/// Most `quick_check` findings quoted in an error.
const QUOTED_FINDINGS: usize = 5;

impl Store {
    /// Takes `ids` as accepted (so they stay refused) and moves the sequence past `last_seq`:
    /// what a start with `--accept-data-loss` keeps of a high-water mark the database lost.
    pub(crate) fn adopt(
        &mut self,
        ids: &RangeInclusiveSet<u64>,
        last_seq: Option<u64>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| sql_error(&path, e);
        for r in ids.iter() {
            self.accepted.insert(r.clone());
        }
        if let Some(q) = last_seq {
            self.next_seq = self.next_seq.max(q.saturating_add(1));
        }
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute("DELETE FROM accepted", []).map_err(err)?;
        {
            let mut put = tx
                .prepare("INSERT INTO accepted (lo, hi) VALUES (?1, ?2)")
                .map_err(err)?;
            for r in self.accepted.iter() {
                put.execute([to_sql(*r.start()), to_sql(*r.end())])
                    .map_err(err)?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?1)",
            [to_sql(self.next_seq)],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }
}

/// What is wrong with the database: `PRAGMA quick_check` findings, and the tables a database
/// that has any lost (a fresh, empty database has none and is sound).
pub(super) fn inspect(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut damage = Vec::new();
    let findings: Vec<String> = conn
        .prepare("PRAGMA quick_check")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if findings != ["ok"] {
        let mut quoted = findings
            .iter()
            .take(QUOTED_FINDINGS)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        if findings.len() > QUOTED_FINDINGS {
            quoted.push_str(&format!(" | … ({} findings)", findings.len()));
        }
        damage.push(format!("PRAGMA quick_check: {quoted}"));
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if !tables.is_empty() {
        for t in TABLES {
            if !tables.iter().any(|have| have == t) {
                damage.push(match t {
                    "queue" => "table queue is missing (the unfinished events it held are lost)"
                        .to_string(),
                    t => format!("table {t} is missing"),
                });
            }
        }
    }
    Ok(damage)
}
