//! Tests of the timer: the spin/sleep decision on made-up times, and real sleeps that must
//! never end early.

use super::*;

const PRECISE: Tuning = Tuning {
    lead_max: 80,
    lead_share: 4,
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
fn a_near_wake_up_spins() {
    assert_eq!(PRECISE.step(9_750, Some(10_000)), Step::Spin);
    assert_eq!(PRECISE.step(9_990, Some(10_000)), Step::Spin);
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
            Step::Spin | Step::Fire
        ));
    }
}

#[test]
fn precise_mode_spins_only_within_the_margin() {
    for now in (0..20_000).step_by(3) {
        let left = 20_000 - now;
        match PRECISE.step(now, Some(20_000)) {
            Step::Spin => assert!(left <= 300, "spin at {left} µs left"),
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

/// A thread-less timer in `mode`, for driving the firing logic by hand.
fn shared(mode: TimerMode) -> Shared {
    Shared::new(mode)
}

#[test]
fn with_no_woken_sleep_pending_the_front_is_woken_ahead_by_its_lead() {
    let s = shared(TimerMode::Precise);
    assert!(!s.workers_busy());
    assert_eq!(s.wake_time((10_000, 80)), 9_920);
    assert_eq!(s.wake_time((10_000, 25)), 9_975);
}

#[test]
fn while_a_woken_sleep_is_pending_the_front_is_woken_at_its_deadline() {
    let s = shared(TimerMode::Precise);
    s.woken.store(3, Relaxed);
    s.ended.store(2, Relaxed);
    assert!(s.workers_busy());
    assert_eq!(s.wake_time((10_000, 80)), 10_000);
    // Ended ahead of woken (a sleep polled to its end before the thread woke it): not busy.
    s.ended.store(4, Relaxed);
    assert!(!s.workers_busy());
}

/// A lead long enough that no test is slow enough to outrun it.
const WIDE: u64 = 1_000_000;

/// Registers sleeps at `deadlines` µs from now (lead [`WIDE`], urgency = index) and runs one
/// `take_due`; returns the urgencies taken.
fn take_after(busy: bool, deadlines: &[u64]) -> Vec<u64> {
    let s = shared(TimerMode::Precise);
    let now = s.now();
    // A heavier account registered first, so none of these sleeps is critical.
    s.register(now + 9_000_000, WIDE, 1_000, Waker::noop().clone());
    for (i, &d) in deadlines.iter().enumerate() {
        s.register(now + d, WIDE, i as u64, Waker::noop().clone());
    }
    if busy {
        s.woken.store(1, Relaxed);
    }
    let mut due = Vec::new();
    take_due(&s, &mut s.state.lock().unwrap(), &mut due);
    let mut taken: Vec<u64> = due.iter().map(|d| d.0).collect();
    taken.sort_unstable();
    taken
}

#[test]
fn a_cold_fire_takes_the_sleeps_within_their_lead_and_no_later_ones() {
    assert_eq!(
        take_after(false, &[500_000, 700_000, 5_000_000]),
        vec![0, 1]
    );
}

#[test]
fn a_busy_fire_takes_only_sleeps_whose_deadline_has_passed() {
    assert_eq!(
        take_after(true, &[500_000, 700_000, 5_000_000]),
        Vec::<u64>::new()
    );
    assert_eq!(take_after(true, &[0, 5_000_000]), vec![0]);
}

#[test]
fn taking_sleeps_counts_them_woken_and_ending_them_balances_the_count() {
    let s = Arc::new(shared(TimerMode::Precise));
    let h = TimerHandle {
        shared: Arc::clone(&s),
    };
    let deadline = Micros(s.now() + 1_000_000);
    let mut sleep = Box::pin(h.sleep_until(deadline, 0));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    assert_eq!(s.state.lock().unwrap().timers.len(), 1);
    s.woken.fetch_add(1, Relaxed);
    assert!(s.workers_busy());
    // A sleep dropped before its end (a cancelled handler) still counts as ended, so the
    // thread does not take the workers for busy for ever.
    drop(sleep);
    assert!(!s.workers_busy());
}

#[test]
fn the_heaviest_accounts_sleeps_keep_their_lead_while_the_workers_are_busy() {
    let s = shared(TimerMode::Precise);
    let now = s.now();
    // Urgency 1,000 and 600 are at least half the top; 100 is not.
    for (d, urgency) in [
        (500_000, 1_000u64),
        (600_000, 100),
        (700_000, 600),
        (5_000_000, 900),
    ] {
        s.register(now + d, WIDE, urgency, Waker::noop().clone());
    }
    {
        let st = s.state.lock().unwrap();
        assert_eq!(st.critical.len(), 3);
        assert_eq!(st.timers.len(), 1);
    }
    s.woken.store(1, Relaxed);
    let mut due = Vec::new();
    take_due(&s, &mut s.state.lock().unwrap(), &mut due);
    let mut taken: Vec<u64> = due.iter().map(|d| d.0).collect();
    taken.sort_unstable();
    // Busy: the plain sleep waits for its deadline; the critical ones within their lead go
    // now; the far one stays.
    assert_eq!(taken, vec![600, 1_000]);
}

#[test]
fn at_most_a_few_sleeps_are_critical_at_once() {
    let s = shared(TimerMode::Precise);
    let now = s.now();
    for i in 0..20 {
        s.register(now + 1_000_000 + i, 80, 500, Waker::noop().clone());
    }
    assert_eq!(s.state.lock().unwrap().critical.len(), CRITICAL_MAX);
    // Sleep mode has no lead, so nothing is critical there.
    let plain = shared(TimerMode::Sleep);
    plain.register(now + 1_000_000, 0, 500, Waker::noop().clone());
    assert!(plain.state.lock().unwrap().critical.is_empty());
}
