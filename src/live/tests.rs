//! Tests of the live board.

use super::observed::Observed;
use super::*;
use crate::engine::clock::TokioClock;
use crate::engine::own_lane::{OwnLanes, Prepared};
use crate::engine::work::SleepHandler;
use crate::types::{AccountId, EventId, Micros};
use crate::workload::{Source, Workload};
use std::sync::Arc;

const S: u64 = 1_000_000;

fn run_board(events: u64, bound_s: f64, lanes: Option<u64>) -> Board {
    let b = Board::default();
    b.describe(Info {
        mode: "run".into(),
        events_total: Some(events),
        lower_bound_s: Some(bound_s),
        lanes,
        ..Info::default()
    });
    b
}

#[test]
fn gauges_follow_starts_and_finishes() {
    let b = run_board(3, 2.0, None);
    for a in [1, 1, 2] {
        b.queue(a, S);
    }
    b.start(1, 0, S);
    b.start(2, 0, S);
    b.finish(2, S, S);
    b.sample_at(Duration::from_secs(1));
    let s = b.snapshot();
    assert_eq!(
        (s.accepted, s.queued, s.in_flight, s.processed),
        (3, 1, 1, 1)
    );
    assert_eq!(s.seq, 1);
    assert_eq!(s.latency_p50_us.map(|v| v / 1000), Some(1000));
    // The window is emptied by each sample: no finish since, no latency.
    b.sample_at(Duration::from_millis(1250));
    assert_eq!(b.snapshot().latency_p50_us, None);
    assert_eq!(b.snapshot().history.t_s, vec![1.0, 1.25]);
}

#[test]
fn the_hottest_accounts_are_those_with_most_work_left() {
    let b = run_board(6, 3.0, None);
    for a in [7, 7, 7, 8, 9, 9] {
        b.queue(a, S);
    }
    b.sample_at(Duration::ZERO);
    let hot: Vec<(u64, u64)> = b
        .snapshot()
        .hottest
        .iter()
        .map(|h| (h.account_id, h.events_left))
        .collect();
    assert_eq!(hot, vec![(7, 3), (9, 2), (8, 1)]);
}

#[test]
fn efficiency_so_far_is_the_bound_over_the_earliest_possible_finish() {
    // Account 1 has 3 s of work, account 2 has 1 s; bound 3 s with one lane per account.
    let b = run_board(4, 3.0, None);
    for a in [1, 1, 1, 2] {
        b.queue(a, S);
    }
    b.start(1, 0, S);
    b.start(2, 0, S);
    b.sample_at(Duration::from_millis(500));
    let s = b.snapshot();
    assert_eq!(s.best_finish_s, Some(3.0));
    assert_eq!(s.efficiency_so_far, Some(1.0));
    // Account 1's second event starts 1 s late: the run can no longer finish before 4 s.
    b.finish(1, S, S);
    b.finish(2, S, S);
    b.start(1, 2 * S, S);
    b.sample_at(Duration::from_millis(2500));
    let s = b.snapshot();
    assert_eq!(s.best_finish_s, Some(4.0));
    assert_eq!(s.efficiency_so_far, Some(0.75));
}

/// Bursts of 10 events every 1.1 s (1 s events and some overhead), sampled every 250 ms:
/// over one second some samples saw no burst and read 0 events/s.
#[test]
fn the_rate_does_not_fall_to_zero_between_bursts() {
    let b = run_board(200, 1.0, None);
    for i in 0..200u64 {
        b.queue(i, 0);
    }
    let mut next = 0u64;
    for step in 1..=60u64 {
        let now_ms = 250 * step;
        // The bursts due by now (at 1.1 s, 2.2 s, …).
        while next < 15 && (next + 1) * 1100 <= now_ms {
            for a in next * 10..next * 10 + 10 {
                b.start(a, 0, 0);
                b.finish(a, 0, 0);
            }
            next += 1;
        }
        b.sample_at(Duration::from_millis(now_ms));
        let eps = b.snapshot().throughput_eps;
        if now_ms >= 1100 {
            assert!(eps > 0.0, "0 events/s at {now_ms} ms");
        }
        if now_ms >= 6000 {
            // 10 events per 1.1 s = 9.1/s, give or take a burst at a window's edge.
            assert!((7.0..=11.0).contains(&eps), "{eps} events/s at {now_ms} ms");
        }
    }
}

/// The latency tile shows recent traffic; seconds after the last event it says idle.
#[test]
fn the_recent_latency_lapses_when_traffic_stops() {
    let b = run_board(1, 1.0, None);
    b.queue(1, S);
    b.start(1, 0, S);
    b.finish(1, S, S);
    b.sample_at(Duration::from_secs(1));
    for ms in (1250..=5750).step_by(250) {
        b.sample_at(Duration::from_millis(ms));
    }
    let s = b.snapshot();
    assert_eq!(s.latency_p50_us, None);
    assert_eq!(s.latency_recent_p50_us.map(|v| v / 1000), Some(1000));
    b.sample_at(Duration::from_millis(6250));
    assert_eq!(b.snapshot().latency_recent_p50_us, None);
    assert_eq!(b.snapshot().latency_recent_p99_us, None);
}

#[test]
fn rate_is_measured_over_a_window() {
    let b = run_board(100, 1.0, None);
    for i in 0..40u64 {
        b.queue(i, 0);
    }
    for step in 1..=8u64 {
        for i in 0..5 {
            let a = (step - 1) * 5 + i;
            b.start(a, 0, 0);
            b.finish(a, 0, 0);
        }
        b.sample_at(Duration::from_millis(250 * step));
    }
    // 5 events every 250 ms = 20 events/s.
    assert!((b.snapshot().throughput_eps - 20.0).abs() < 1e-9);
}

#[test]
fn long_histories_are_thinned_not_grown() {
    let b = run_board(0, 0.0, None);
    for i in 0..3 * MAX_POINTS as u64 {
        b.sample_at(Duration::from_millis(250 * i));
    }
    let h = b.snapshot().history;
    assert!(h.t_s.len() <= MAX_POINTS && h.t_s.len() > MAX_POINTS / 2);
    assert!(h.t_s.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(h.t_s.len(), h.p99_us.len());
}

#[test]
fn completion_freezes_the_verified_numbers() {
    let b = run_board(1, 1.0, None);
    b.queue(1, S);
    b.start(1, 0, S);
    b.finish(1, S, S);
    b.complete(0, 1.25, 0.8, 1.0);
    let s = b.snapshot();
    assert!(s.done);
    assert_eq!(s.info.lower_bound_s, Some(1.0));
    assert_eq!(s.wall_time_s, Some(1.25));
    assert_eq!(s.efficiency_so_far, Some(0.8));
    let seq = s.seq;
    b.sample_at(Duration::from_secs(9));
    assert_eq!(b.snapshot().seq, seq, "no sample after completion");
}

#[test]
fn a_server_reads_its_engine_counters() {
    let b = Board::default();
    b.count_with(Box::new(|| Counts {
        accepted: 9,
        queued: 4,
        in_flight: 2,
        processed: 3,
        rejected: Some(1),
    }));
    b.sample_at(Duration::from_secs(1));
    let s = b.snapshot();
    assert_eq!((s.accepted, s.queued, s.rejected), (9, 4, Some(1)));
    assert_eq!(s.efficiency_so_far, None);
}

#[tokio::test(start_paused = true)]
async fn an_observed_run_reports_every_event_once() {
    let mut w = Workload::new(Source::Live("t".into()), Micros(10_000));
    for (i, a) in [1u64, 2, 1, 3, 1].into_iter().enumerate() {
        w.push(EventId(i as u64 + 1), AccountId(a), None);
    }
    let board = Arc::new(run_board(5, 0.03, None));
    for a in [1, 2, 1, 3, 1] {
        board.queue(a, 10_000);
    }
    let handler = Observed {
        inner: SleepHandler,
        board: Arc::clone(&board),
    };
    let run = OwnLanes::launch(Prepared::new(w), handler, TokioClock::new());
    run.wait().await;
    board.sample_at(Duration::from_millis(30));
    let s = board.snapshot();
    assert_eq!((s.processed, s.in_flight, s.queued), (5, 0, 0));
    assert!(s.hottest.is_empty());
    // The last event of account 1 ends at 30 ms: the latency of the slowest.
    assert_eq!(s.latency_p99_us.map(|v| v / 1000), Some(30));
}

proptest::proptest! {
    /// Whatever order the accounts' events run in, the hottest list holds the true work left
    /// of the heaviest accounts, the gauges add up, and the efficiency so far is a fraction.
    #[test]
    fn the_board_tracks_the_true_work_left(
        accounts in proptest::collection::vec(1u64..6, 1..40),
        picks in proptest::collection::vec(0usize..6, 0..60),
    ) {
        let n = accounts.len() as u64;
        let b = run_board(n, 1.0, Some(2));
        let mut left: std::collections::HashMap<u64, u64> = Default::default();
        for &a in &accounts {
            b.queue(a, S);
            *left.entry(a).or_default() += 1;
        }
        let mut done = 0u64;
        for (step, p) in picks.into_iter().enumerate() {
            let mut ready: Vec<u64> = left.iter().filter(|e| *e.1 > 0).map(|e| *e.0).collect();
            ready.sort_unstable();
            let Some(&a) = ready.get(p % ready.len().max(1)) else { break };
            b.start(a, step as u64 * S, S);
            b.finish(a, S, S);
            *left.get_mut(&a).unwrap() -= 1;
            done += 1;
        }
        b.sample_at(Duration::from_secs(done));
        let s = b.snapshot();
        proptest::prop_assert_eq!(s.processed, done);
        proptest::prop_assert_eq!(s.queued + s.in_flight + s.processed, n);
        let mut expected: Vec<(u64, u64)> = left.into_iter().filter(|e| e.1 > 0).collect();
        expected.sort_by_key(|&(a, l)| (std::cmp::Reverse(l), a));
        expected.truncate(HOTTEST);
        let hot: Vec<(u64, u64)> = s.hottest.iter().map(|h| (h.account_id, h.events_left)).collect();
        proptest::prop_assert_eq!(hot, expected);
        let e = s.efficiency_so_far.unwrap();
        proptest::prop_assert!(e > 0.0 && e <= 1.0, "{}", e);
    }
}

#[test]
fn a_real_handler_board_has_no_bound_until_the_times_are_measured() {
    use crate::engine::{Plan, Strategy, Workers};
    let mut w = Workload::new(Source::Live("t".into()), Micros(1_000_000));
    for (i, a) in [1u64, 1, 2].into_iter().enumerate() {
        w.push(EventId(i as u64 + 1), AccountId(a), None);
    }
    let plan = Plan::new(Strategy::PerAccount, Workers::Auto).unwrap();
    let info = |b: &Board| {
        b.sample_at(Duration::ZERO);
        b.snapshot().info
    };
    let declared = super::run_board(&w, plan, None);
    assert_eq!(info(&declared).lower_bound_s, Some(2.0));
    let real = super::run_board(&w, plan, Some("exec:/bin/true".into()));
    let info = info(&real);
    assert_eq!(
        (info.lower_bound_s, info.handler.as_str()),
        (None, "exec:/bin/true")
    );
    real.complete(0, 0.5, 0.9, 0.45);
    let s = real.snapshot();
    assert_eq!(s.info.lower_bound_s, Some(0.45));
    assert_eq!(s.efficiency_so_far, Some(0.9));
}

#[test]
fn an_open_ended_board_counts_what_was_queued_and_not_taken_back() {
    let b = Board::default();
    b.describe(Info {
        mode: "worker".into(),
        ..Info::default()
    });
    for a in [1, 1, 2] {
        b.queue(a, S);
    }
    // Given up unstarted (a consumer's lost connection): it will be delivered again.
    b.unqueue(2, S);
    b.start(1, 0, S);
    // Ended without a known arrival: processed, but no latency sample.
    b.finish_untimed(1, S);
    b.draining();
    b.draining();
    b.sample_at(Duration::from_secs(1));
    let s = b.snapshot();
    assert_eq!(
        (s.accepted, s.queued, s.in_flight, s.processed),
        (2, 1, 0, 1)
    );
    assert_eq!(s.latency_p50_us, None);
    assert_eq!(s.info.mode, "worker (draining)");
    assert_eq!((s.info.events_total, s.best_finish_s), (None, None));
    let hot: Vec<(u64, u64)> = s
        .hottest
        .iter()
        .map(|h| (h.account_id, h.events_left))
        .collect();
    assert_eq!(hot, vec![(1, 1)]);
}
