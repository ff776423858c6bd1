//! What feeding the live dashboard costs per event: `queue` on arrival, `start` and `finish`
//! around the handler (the per-event work of `serve`, and of `run --dashboard`), and one
//! sample of the board (four a second) with many accounts waiting.

use divan::counter::ItemsCount;
use divan::Bencher;
use eventbench::internals::{Board, Info};
use std::time::Duration;

fn main() {
    divan::main();
}

fn board(accounts: u64) -> Board {
    let b = Board::default();
    b.describe(Info {
        mode: "run".into(),
        events_total: Some(accounts * 10),
        lower_bound_s: Some(10.0),
        ..Info::default()
    });
    b
}

/// One event's whole life on the board, over accounts 10 events deep.
#[divan::bench(args = [1_000, 100_000], sample_count = 50, sample_size = 1000)]
fn feed_one_event(b: Bencher, accounts: u64) {
    let board = board(accounts);
    for a in 0..accounts {
        for _ in 0..10 {
            board.queue(a, 1_000);
        }
    }
    let mut next = 0u64;
    b.counter(ItemsCount::new(1u64)).bench_local(|| {
        let a = next % accounts;
        next += 1;
        board.queue(a, 1_000);
        board.start(a, next, 1_000);
        board.finish(a, 1_000, 5_000);
    });
}

/// One sample (gauges, rate, latency window, the 10 hottest of every account with work left).
#[divan::bench(args = [1_000, 100_000], sample_count = 20)]
fn sample(b: Bencher, accounts: u64) {
    let board = board(accounts);
    for a in 0..accounts {
        board.queue(a, 1_000 * (a % 17 + 1));
    }
    let mut t = 0u64;
    b.bench_local(|| {
        t += 250;
        board.sample_at(Duration::from_millis(t));
    });
}
