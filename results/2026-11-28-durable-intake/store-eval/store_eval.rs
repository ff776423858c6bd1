//! Group-commit throughput of three embedded stores: each commit makes a batch of B new events
//! durable (fsync) and marks the previous batch finished, as serve's committer would.
//! Not part of the eventbench crate (it needs redb and fjall, which eventbench does not use):
//! `run.sh` beside it builds it as a throwaway crate in a scratch folder.
use std::time::Instant;

fn key(e: u64) -> [u8; 8] { e.to_be_bytes() }

fn sqlite(dir: &std::path::Path, batch: u64, total: u64) -> f64 {
    let c = rusqlite::Connection::open(dir.join("q.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute_batch("CREATE TABLE IF NOT EXISTS ev(id INTEGER PRIMARY KEY, account INTEGER NOT NULL, seq INTEGER NOT NULL, state INTEGER NOT NULL)").unwrap();
    let mut c = c;
    let t = Instant::now();
    let mut e = 0u64;
    while e < total {
        let tx = c.transaction().unwrap();
        {
            let mut ins = tx.prepare_cached("INSERT INTO ev(id,account,seq,state) VALUES (?1,?2,?3,0)").unwrap();
            let mut fin = tx.prepare_cached("UPDATE ev SET state=2 WHERE id=?1").unwrap();
            for i in 0..batch { ins.execute((e + i, (e + i) % 1000, e + i)).unwrap(); }
            if e >= batch { for i in 0..batch { fin.execute([e - batch + i]).unwrap(); } }
        }
        tx.commit().unwrap();
        e += batch;
    }
    total as f64 / t.elapsed().as_secs_f64()
}

fn redb_run(dir: &std::path::Path, batch: u64, total: u64) -> f64 {
    const T: redb::TableDefinition<u64, (u64, u64, u8)> = redb::TableDefinition::new("ev");
    let db = redb::Database::create(dir.join("q.redb")).unwrap();
    let t = Instant::now();
    let mut e = 0u64;
    while e < total {
        let tx = db.begin_write().unwrap();
        {
            let mut tab = tx.open_table(T).unwrap();
            for i in 0..batch { tab.insert(e + i, ((e + i) % 1000, e + i, 0u8)).unwrap(); }
            if e >= batch { for i in 0..batch { let id = e - batch + i; tab.insert(id, (id % 1000, id, 2u8)).unwrap(); } }
        }
        tx.commit().unwrap();
        e += batch;
    }
    total as f64 / t.elapsed().as_secs_f64()
}

fn fjall_run(dir: &std::path::Path, batch: u64, total: u64) -> f64 {
    let ks = fjall::Config::new(dir.join("fj")).open().unwrap();
    let p = ks.open_partition("ev", fjall::PartitionCreateOptions::default()).unwrap();
    let t = Instant::now();
    let mut e = 0u64;
    while e < total {
        let mut b = ks.batch();
        for i in 0..batch { let id = e + i; let mut v = [0u8; 17]; v[..8].copy_from_slice(&(id % 1000).to_be_bytes()); v[8..16].copy_from_slice(&id.to_be_bytes()); b.insert(&p, key(id), v); }
        if e >= batch { for i in 0..batch { b.remove(&p, key(e - batch + i)); } }
        b.commit().unwrap();
        ks.persist(fjall::PersistMode::SyncAll).unwrap();
        e += batch;
    }
    total as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let base = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("storeeval"));
    println!("store,batch,events,events_per_s,commits_per_s");
    for &batch in &[1u64, 16, 128, 1024] {
        let total = (batch * 300).clamp(2000, 200_000);
        for name in ["sqlite-wal", "redb", "fjall"] {
            let dir = std::path::Path::new(&base).join(format!("{name}-{batch}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let eps = match name { "sqlite-wal" => sqlite(&dir, batch, total), "redb" => redb_run(&dir, batch, total), _ => fjall_run(&dir, batch, total) };
            println!("{name},{batch},{total},{eps:.0},{:.0}", eps / batch as f64);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
