//! The events CSV loader: rows per second for files of 100k and 1M rows, written once to a
//! temporary folder (the loader's cost is parsing and indexing, not the disk: the file is cached).

use divan::counter::ItemsCount;
use divan::Bencher;
use eventbench::types::Micros;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

fn main() {
    divan::main();
}

/// `event_id,account_id` rows over `rows / 10` accounts, in a folder that lives as long as the
/// process.
fn csv_file(rows: u64) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let path = dir.path().join(format!("events-{rows}.csv"));
    if !path.exists() {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(f, "event_id,account_id").unwrap();
        let accounts = (rows / 10).max(1);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for id in 1..=rows {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            writeln!(f, "{id},{}", (x >> 33) % accounts + 1).unwrap();
        }
        f.flush().unwrap();
    }
    path
}

#[divan::bench(args = [100_000, 1_000_000], sample_count = 10, sample_size = 1)]
fn load(b: Bencher, rows: u64) {
    let path = csv_file(rows);
    b.counter(ItemsCount::new(rows))
        .bench_local(|| eventbench::workload::csv::load(&path, Micros(1_000_000)).unwrap());
}

/// 10M rows over 1M accounts, the scale of the 100M-event work (issue 28) divided by ten. Left
/// out of `cargo test`, whose unoptimised build would spend minutes writing and reading it:
/// `cargo bench --bench loader -- --include-ignored load_10m`.
#[divan::bench(ignore, sample_count = 3, sample_size = 1)]
fn load_10m(b: Bencher) {
    let rows = 10_000_000;
    let path = csv_file(rows);
    b.counter(ItemsCount::new(rows))
        .bench_local(|| eventbench::workload::csv::load(&path, Micros(1_000_000)).unwrap());
}
