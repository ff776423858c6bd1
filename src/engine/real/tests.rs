//! Tests of `real`.

use super::*;
use crate::engine::clock::TokioClock;
use crate::engine::order_check::check_order_and_in_flight;
use crate::engine::scheduler::build;
use crate::engine::sim::simulate;
use crate::engine::work::Ctx;
use crate::engine::work::SleepHandler;
use crate::workload::Source;

const MS: u64 = 1_000;

/// Accounts with chains of different lengths, in an order that punishes FIFO.
fn workload() -> Workload {
    let mut w = Workload::new(Source::Live("t".into()), Micros(10 * MS));
    let accounts = [5, 6, 7, 8, 5, 9, 1, 1, 1, 1, 1, 2, 2, 3];
    for (i, a) in accounts.into_iter().enumerate() {
        w.push(EventId(i as u64 + 1), AccountId(a), None);
    }
    w
}

#[tokio::test(start_paused = true)]
async fn paused_clock_runs_reproduce_the_simulated_schedule() {
    let cases = [
        (Strategy::PerAccount, None),
        (Strategy::Optimal, Some(3)),
        (Strategy::Sharded, Some(3)),
        (Strategy::Optimal, Some(1)),
    ];
    for (strategy, lanes) in cases {
        let w = workload();
        let expected = simulate(&w, build(strategy, lanes).as_mut()).wall;
        let (w, exec) = run_batch(w, strategy, lanes, SleepHandler, TokioClock::new()).await;
        assert_eq!(exec.wall, expected, "{strategy} on {lanes:?} lanes");
        let v = check_order_and_in_flight(&w, &exec.records);
        assert!(v.passed(false), "{strategy}: {v:?}");
        assert!(lanes.is_none_or(|l| v.max_in_flight <= l));
        assert!(!exec.interrupted);
    }
}

/// The test workload on two `pool` lanes with the sleep handler, closed to new events.
fn two_pool_lanes_closed() -> Engine<SleepHandler, TokioClock> {
    let engine = Engine::start(
        workload(),
        Strategy::Pool,
        Some(2),
        SleepHandler,
        TokioClock::new(),
        None,
    );
    engine.close();
    engine
}

#[tokio::test(start_paused = true)]
async fn stop_lets_events_in_flight_finish_and_starts_nothing_new() {
    let engine = two_pool_lanes_closed();
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    engine.stop();
    engine.wait().await;
    let (w, exec) = engine.finish(ClockKind::Real);
    let v = check_order_and_in_flight(&w, &exec.records);
    assert!(exec.interrupted);
    assert_eq!(w.len() as u64 - v.unprocessed, 4, "two rounds of two lanes");
    assert!(v.passed(true), "{v:?}");
    assert_eq!(exec.wall, Micros(20 * MS));
}

#[tokio::test(start_paused = true)]
async fn abandon_ends_at_once_and_hands_back_the_events_in_flight() {
    let engine = two_pool_lanes_closed();
    // Mid-way through the second round: two events done, two in flight.
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    engine.abandon();
    engine.wait().await;
    let unfinished = engine.unstarted();
    // Let the groups run on: nothing they drop may be recorded after the hand-back.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (w, exec) = engine.finish(ClockKind::Real);
    let v = check_order_and_in_flight(&w, &exec.records);
    assert!(exec.interrupted);
    assert_eq!(
        w.len() as u64 - v.unprocessed,
        2,
        "only the first round ran"
    );
    assert_eq!(
        unfinished.len(),
        w.len() - 2,
        "the two cut off are handed back too"
    );
    assert!(v.passed(true), "{v:?}");
}

#[tokio::test(start_paused = true)]
async fn live_arrivals_run_in_arrival_order_and_observer_sees_them_in_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let observer: Observer = Arc::new(move |job: &Job| log.lock().unwrap().push(job.event.0));
    let engine = Engine::start(
        Workload::new(Source::Live("t".into()), Micros(10 * MS)),
        Strategy::Optimal,
        Some(4),
        SleepHandler,
        TokioClock::new(),
        Some(observer),
    );
    for i in 1..=6u64 {
        engine.submit(EventId(i), AccountId(i % 2), None).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    engine.close();
    assert_eq!(
        engine.submit(EventId(99), AccountId(1), None),
        Err(Rejected::Closed)
    );
    engine.wait().await;
    let (w, exec) = engine.finish(ClockKind::Real);
    assert!(check_order_and_in_flight(&w, &exec.records).passed(false));
    let order = seen.lock().unwrap().clone();
    let odd: Vec<_> = order.iter().filter(|e| *e % 2 == 1).copied().collect();
    assert_eq!(odd, vec![1, 3, 5]);
    // Event 5 arrived at 12 ms but waited for event 3 (started 10 ms): latency counts from arrival.
    let r = exec.records.get(EventIdx(4)).unwrap();
    assert_eq!(r.arrival, Micros(12 * MS));
    assert_eq!(r.start, Micros(20 * MS));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_handler_is_counted_and_the_run_still_ends() {
    struct Boom;
    impl Handler for Boom {
        #[allow(clippy::manual_async_fn)]
        fn handle<C: Clock>(
            &self,
            job: Job,
            _ctx: Ctx<'_, C>,
        ) -> impl std::future::Future<Output = ()> + Send {
            async move { assert!(job.event.0 != 2, "handler failure") }
        }
    }
    let engine = Engine::start(
        workload(),
        Strategy::Pool,
        Some(2),
        Boom,
        TokioClock::new(),
        None,
    );
    engine.close();
    engine.wait().await;
    assert_eq!(engine.counters().panicked.load(Relaxed), 1);
}

/// Runs `events` (account, arrival ms, duration ms), submitted at their arrival times on the
/// paused clock, and returns the workload and what happened.
fn run_live(
    events: &[(u64, u64, u64)],
    strategy: Strategy,
    lanes: Option<u64>,
) -> (Workload, Execution) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = Engine::start(
            Workload::with_durations(
                Source::Live("t".into()),
                crate::workload::Durations::PerEvent(Vec::new()),
            ),
            strategy,
            lanes,
            SleepHandler,
            TokioClock::new(),
            None,
        );
        let clock = TokioClock::new();
        for (i, &(account, at, d)) in events.iter().enumerate() {
            let wait = (at * MS).saturating_sub(clock.now().0);
            tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
            let duration = Some(Micros(d * MS));
            engine
                .submit(EventId(i as u64), AccountId(account), duration)
                .unwrap();
        }
        engine.close();
        engine.wait().await;
        engine.finish(ClockKind::Real)
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// No schedule the engine makes of events arriving over time beats the bound over
    /// arrivals, and `per-account` (a lane per account) meets it exactly.
    #[test]
    fn no_live_schedule_beats_the_bound_over_arrivals(
        events in proptest::collection::vec((1u64..6, 0u64..8, 1u64..6), 1..30),
        lanes in proptest::option::of(1u64..5),
        pick in 0usize..4,
        uniform in proptest::bool::ANY,
    ) {
        let strategy = [Strategy::Optimal, Strategy::Pool, Strategy::Sharded, Strategy::PerAccount][pick];
        let lanes = if strategy == Strategy::PerAccount { None } else { lanes };
        // Arrivals as gaps, so they are in order as a server would see them.
        let mut t = 0;
        let events: Vec<_> = events
            .into_iter()
            .map(|(a, gap, d)| {
                t += gap;
                (a, t, if uniform { 3 } else { d })
            })
            .collect();
        let (w, exec) = run_live(&events, strategy, lanes);
        proptest::prop_assert!(check_order_and_in_flight(&w, &exec.records).passed(false));
        let at = |e| exec.records.arrival_of(e);
        let bound = crate::engine::bound::lower_bound_over_arrivals(&w, lanes, at, |_| true);
        proptest::prop_assert!(exec.wall >= bound, "{strategy} {lanes:?}: {:?} < {bound:?}", exec.wall);
        if strategy == Strategy::PerAccount {
            proptest::prop_assert_eq!(exec.wall, bound);
        }
    }
}
