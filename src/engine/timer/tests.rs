//! Tests of the timer: the pump's and the thread's decisions on made-up times, the critical
//! sleeps, and real sleeps that must never end early.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const PRECISE: Tuning = Tuning {
    lead_max: 80,
    lead_share: 4,
    horizon: 400,
};

#[test]
fn with_nothing_pending_the_pump_and_the_thread_wait_for_a_registration() {
    assert_eq!(PRECISE.pump(5, None), Plan::Idle(None));
    assert_eq!(Tuning::thread(5, None), Step::Park);
}

#[test]
fn a_far_deadline_leaves_the_pump_idle_until_a_horizon_before_it() {
    assert_eq!(PRECISE.pump(1_000, Some(10_000)), Plan::Idle(Some(9_600)));
    assert_eq!(PRECISE.pump(0, Some(1_000_000)), Plan::Idle(Some(999_600)));
    assert_eq!(Tuning::thread(1_000, Some(9_600)), Step::Wait(8_600));
    assert_eq!(Tuning::thread(9_600, Some(9_600)), Step::Act);
}

#[test]
fn the_pump_spins_only_within_the_horizon_and_fires_once_the_deadline_has_passed() {
    for now in (0..20_000).step_by(3) {
        let left = 20_000 - now;
        match PRECISE.pump(now, Some(20_000)) {
            Plan::Spin => assert!(left <= 400, "spin at {left} µs left"),
            Plan::Idle(at) => assert_eq!(at, Some(19_600)),
            Plan::Fire => unreachable!("fired {left} µs early"),
        }
    }
    assert_eq!(PRECISE.pump(20_000, Some(20_000)), Plan::Fire);
    assert_eq!(PRECISE.pump(20_500, Some(20_000)), Plan::Fire);
}

#[test]
fn sleep_mode_has_no_horizon_and_no_lead() {
    let sleep = Tuning::of(TimerMode::Sleep);
    assert_eq!(sleep.pump(9_999, Some(10_000)), Plan::Idle(Some(10_000)));
    assert_eq!(sleep.lead(1_000_000), 0);
}

#[test]
fn the_lead_is_capped_and_never_more_than_a_quarter_of_the_sleep() {
    assert_eq!(PRECISE.lead(1_000_000), 80);
    assert_eq!(PRECISE.lead(1_000), 80);
    assert_eq!(PRECISE.lead(100), 25);
    assert_eq!(PRECISE.lead(3), 0);
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

#[test]
fn outside_a_runtime_the_thread_wakes_the_sleeps_itself() {
    let timer = TimerThread::start().unwrap();
    assert!(!timer.shared.lock().pumped);
    let h = timer.handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let deadline = h.now().saturating_add(Micros(2_000));
    rt.block_on(h.sleep_until(deadline, 0));
    assert!(h.now() >= deadline);
}

#[tokio::test]
async fn a_past_deadline_is_ready_at_once() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    h.sleep_until(Micros::ZERO, 0).await;
    h.sleep_until(h.now(), 0).await;
}

#[tokio::test]
async fn a_sleep_of_a_few_microseconds_spins_instead_of_registering() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    let deadline = h.now().saturating_add(Micros(5));
    h.sleep_until(deadline, 0).await;
    assert!(h.now() >= deadline);
    assert!(timer.shared.lock().timers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_sleep_woken_ahead_spins_out_its_lead_and_never_ends_early() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    // The only account, so every sleep is critical and woken ahead by its lead.
    for length in [10u64, 100, 1_000, 5_000] {
        let deadline = h.now().saturating_add(Micros(length));
        h.sleep_until(deadline, 1).await;
        assert!(h.now() >= deadline, "{length} µs sleep ended early");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_deadline_near_the_pump_parks_and_a_dropped_timer_ends_it() {
    let timer = TimerThread::start().unwrap();
    let h = timer.handle();
    let deadline = h.now().saturating_add(Micros(1_000));
    h.sleep_until(deadline, 0).await;
    // Nothing pending: the pump hands its waker to the thread instead of spinning.
    let mut idle = false;
    for _ in 0..1_000 {
        idle = timer.shared.lock().pump.is_some();
        if idle {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_micros(100));
    }
    assert!(idle, "the pump never went idle");
    drop(timer);
    // The pump task held the last other reference to the timer's state.
    for _ in 0..1_000 {
        if Arc::strong_count(&h.shared) == 1 {
            return;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_micros(100));
    }
    panic!("the pump outlived its timer");
}

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl std::task::Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Relaxed);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (Arc::clone(&c), Waker::from(c))
}

#[test]
fn a_registration_wakes_the_sleeps_that_have_come_due() {
    let s = Shared::new(TimerMode::Precise);
    let (due, waker) = counter();
    s.register(s.now() + 200, s.now(), 0, waker);
    // Past that deadline for sure; no thread and no pump are running.
    std::thread::sleep(Duration::from_micros(500));
    let (later, waker) = counter();
    s.register(s.now() + 1_000_000, s.now(), 0, waker);
    assert_eq!(due.0.load(Relaxed), 1);
    assert_eq!(later.0.load(Relaxed), 0);
    assert_eq!(s.lock().timers.len(), 1);
}

#[test]
fn the_heaviest_accounts_sleeps_are_critical_and_woken_ahead_by_their_lead() {
    let s = Shared::new(TimerMode::Precise);
    let now = s.now();
    // Urgency 1,000 and 600 are at least half the top; 100 is not.
    let leads: Vec<u64> = [(500_000, 1_000u64), (600_000, 100), (700_000, 600)]
        .into_iter()
        .map(|(d, u)| s.register(now + d, now, u, Waker::noop().clone()))
        .collect();
    assert_eq!(leads, vec![80, 0, 80]);
    let mut st = s.lock();
    assert_eq!((st.critical.len(), st.timers.len()), (2, 1));
    // The front is the first critical sleep's deadline less its lead.
    assert_eq!(st.front(), Some(now + 500_000 - 80));
    let mut due = Due::new();
    s.take_due(&mut st, now + 500_000 - 80, &mut due);
    assert_eq!(due.iter().map(|d| d.0).collect::<Vec<_>>(), vec![1_000]);
    // A plain sleep is taken only once its deadline has passed.
    due.clear();
    s.take_due(&mut st, now + 600_000 - 1, &mut due);
    assert!(due.is_empty());
    s.take_due(&mut st, now + 700_000, &mut due);
    let mut taken: Vec<u64> = due.iter().map(|d| d.0).collect();
    taken.sort_unstable();
    assert_eq!(taken, vec![100, 600]);
    assert_eq!(s.front.load(Relaxed), NONE);
}

#[test]
fn at_most_a_few_sleeps_are_critical_at_once() {
    let s = Shared::new(TimerMode::Precise);
    let now = s.now();
    for i in 0..20 {
        s.register(now + 1_000_000 + i, now, 500, Waker::noop().clone());
    }
    assert_eq!(s.lock().critical.len(), CRITICAL_MAX);
    // Sleep mode has no lead, so nothing is critical there.
    let plain = Shared::new(TimerMode::Sleep);
    assert_eq!(
        plain.register(now + 1_000_000, now, 500, Waker::noop().clone()),
        0
    );
    assert!(plain.lock().critical.is_empty());
}
