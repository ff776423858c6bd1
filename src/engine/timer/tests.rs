//! Tests of the timer: the spin/sleep decision on made-up times, and real sleeps that must
//! never end early.

use super::*;

const PRECISE: Tuning = Tuning {
    lead_max: 80,
    lead_share: 4,
    batch: 80,
    margin: 300,
    yield_above: 20,
};

#[test]
fn no_timer_parks_the_thread() {
    assert_eq!(PRECISE.step(5, None), Step::Park);
    assert_eq!(Tuning::of(TimerMode::Sleep).step(5, None), Step::Park);
}

#[test]
fn a_far_wake_up_waits_in_the_kernel_until_the_margin() {
    assert_eq!(PRECISE.step(1_000, Some(10_000)), Step::Wait(8_700));
    // One second away: a kernel wait, no spinning for a far deadline.
    assert_eq!(PRECISE.step(0, Some(1_000_000)), Step::Wait(999_700));
}

#[test]
fn a_near_wake_up_spins_yielding_until_the_last_microseconds() {
    assert_eq!(
        PRECISE.step(9_750, Some(10_000)),
        Step::Spin { yield_core: true }
    );
    assert_eq!(
        PRECISE.step(9_990, Some(10_000)),
        Step::Spin { yield_core: false }
    );
    assert_eq!(PRECISE.step(10_000, Some(10_000)), Step::Fire);
    assert_eq!(PRECISE.step(10_500, Some(10_000)), Step::Fire);
}

#[test]
fn the_lead_is_capped_and_never_more_than_a_quarter_of_the_sleep() {
    assert_eq!(PRECISE.lead(1_000_000), 80);
    assert_eq!(PRECISE.lead(1_000), 80);
    assert_eq!(PRECISE.lead(100), 25);
    assert_eq!(PRECISE.lead(3), 0);
    assert_eq!(Tuning::of(TimerMode::Sleep).lead(1_000_000), 0);
}

#[test]
fn sleep_mode_never_spins_and_wakes_only_at_the_deadline() {
    let sleep = Tuning::of(TimerMode::Sleep);
    assert_eq!(sleep.step(9_999, Some(10_000)), Step::Wait(1));
    assert_eq!(sleep.step(10_000, Some(10_000)), Step::Fire);
    for now in (0..10_000).step_by(7) {
        assert!(!matches!(
            sleep.step(now, Some(10_000)),
            Step::Spin { .. } | Step::Fire
        ));
    }
}

#[test]
fn precise_mode_spins_only_within_the_margin() {
    for now in (0..20_000).step_by(3) {
        let left = 20_000 - now;
        match PRECISE.step(now, Some(20_000)) {
            Step::Spin { .. } => assert!(left <= 300, "spin at {left} µs left"),
            Step::Wait(us) => assert_eq!(us, left - 300),
            Step::Fire | Step::Park => unreachable!(),
        }
    }
}

async fn sleeps_end_in_deadline_order_never_early(mode: TimerMode) {
    let timer = TimerThread::with_mode(mode).unwrap();
    let h = timer.handle();
    let t0 = h.now();
    let mut tasks = Vec::new();
    for (i, us) in [30_000u64, 10_000, 20_000, 150, 10_010]
        .into_iter()
        .enumerate()
    {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let deadline = t0.saturating_add(Micros(us));
            h.sleep_until(deadline, i as u64).await;
            let now = h.now();
            assert!(now >= deadline, "woke at {now:?} before {deadline:?}");
            now
        }));
    }
    let mut ends = Vec::new();
    for t in tasks {
        ends.push(t.await.unwrap());
    }
    assert!(ends[3] < ends[1] && ends[1] < ends[2] && ends[2] < ends[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precise_sleeps_never_end_early_and_fire_in_deadline_order() {
    sleeps_end_in_deadline_order_never_early(TimerMode::Precise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_sleeps_never_end_early_and_fire_in_deadline_order() {
    sleeps_end_in_deadline_order_never_early(TimerMode::Sleep).await;
}

#[tokio::test]
async fn a_past_deadline_is_ready_at_once() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    h.sleep_until(Micros::ZERO, 0).await;
    h.sleep_until(h.now(), 0).await;
}

#[tokio::test]
async fn a_sleep_within_the_lead_spins_instead_of_registering() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    let deadline = h.now().saturating_add(Micros(5));
    h.sleep_until(deadline, 0).await;
    assert!(h.now() >= deadline);
    assert!(timer.shared.state.lock().unwrap().timers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_woken_ahead_spins_out_its_lead_and_never_ends_early() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    for length in [10u64, 100, 1_000, 5_000] {
        let deadline = h.now().saturating_add(Micros(length));
        h.sleep_until(deadline, 0).await;
        assert!(h.now() >= deadline, "{length} µs sleep ended early");
    }
}
