//! Engine throughput with zero processing time: how many events per second each strategy's
//! scheduler pushes through the virtual clock, the real executor's overhead per event, and a
//! whole virtual-clock run (simulate + verify + report) as `run`/`compare` do it.
//!
//! Workloads have ten events per account on average (the shape of the original problem) and are
//! built once per size; the 10M cases take few samples so `cargo bench` stays within minutes.

use divan::counter::ItemsCount;
use divan::Bencher;
use eventbench::engine::clock::PreciseClock;
use eventbench::engine::exec::{Executor, LaidOut, Launched};
use eventbench::engine::timer::{TimerMode, TimerThread};
use eventbench::engine::work::SleepHandler;
use eventbench::engine::{scheduler, sim, ClockKind, Plan, Strategy, Workers};
use eventbench::internals::{Report, RunInfo};
use eventbench::types::{AccountId, EventId, Micros};
use eventbench::workload::{Source, Workload};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, OnceLock};

fn main() {
    divan::main();
}

/// Lanes for the bounded strategies: enough to keep every scheduler busy, far below the
/// account count so the ready queues matter.
const LANES: u64 = 100;

/// A zero-time workload of `events` events over `events / 10` accounts, built once per size.
fn workload(events: u64) -> &'static Workload {
    static CACHE: OnceLock<Mutex<HashMap<u64, &'static Workload>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache.entry(events).or_insert_with(|| {
        let accounts = (events / 10).max(1);
        let mut w = Workload::new(Source::Live("bench".into()), Micros::ZERO);
        w.reserve(events as usize);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for id in 1..=events {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            w.push(EventId(id), AccountId((x >> 33) % accounts + 1), None);
        }
        Box::leak(Box::new(w))
    })
}

fn lanes(s: Strategy) -> Option<u64> {
    (s != Strategy::PerAccount).then_some(LANES)
}

fn plan(s: Strategy) -> Plan {
    let workers = match lanes(s) {
        Some(n) => Workers::Fixed(NonZeroU32::new(n as u32).unwrap()),
        None => Workers::Auto,
    };
    Plan::new(s, workers).unwrap()
}

fn bench_simulate(b: Bencher, s: Strategy, events: u64) {
    let w = workload(events);
    b.counter(ItemsCount::new(events)).bench_local(|| {
        let mut sched = scheduler::build(s, lanes(s));
        sim::simulate(w, sched.as_mut())
    });
}

/// Schedulers on the virtual clock, 10k events.
#[divan::bench(args = Strategy::ALL, sample_count = 50)]
fn simulate_10k(b: Bencher, s: Strategy) {
    bench_simulate(b, s, 10_000);
}

/// Schedulers on the virtual clock, 1M events.
#[divan::bench(args = Strategy::ALL, sample_count = 5, sample_size = 1)]
fn simulate_1m(b: Bencher, s: Strategy) {
    bench_simulate(b, s, 1_000_000);
}

/// Schedulers on the virtual clock, 10M events.
#[divan::bench(args = Strategy::ALL, sample_count = 2, sample_size = 1)]
fn simulate_10m(b: Bencher, s: Strategy) {
    bench_simulate(b, s, 10_000_000);
}

fn bench_real(b: Bencher, s: Strategy, events: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The precise timer completes a zero sleep on its first poll; tokio's own clock would
    // round every sleep up to its 1 ms tick and measure that instead of the engine.
    let timer = TimerThread::start().unwrap();
    let w = workload(events);
    b.counter(ItemsCount::new(events))
        .with_inputs(|| w.clone())
        .bench_local_values(|w| {
            let clock = PreciseClock::new(timer.handle());
            // The executor `run` picks for this plan (own lanes for per-account).
            rt.block_on(async move {
                let run = Launched::launch(LaidOut::new(w, plan(s)), SleepHandler, clock);
                run.wait().await;
                run.finish()
            })
        });
}

/// The real-clock executor `run` picks for each strategy (own lanes for per-account, the
/// shared-lock engine for 100 lanes), zero-time handlers: pure engine overhead, 10k events.
#[divan::bench(args = Strategy::ALL, sample_count = 20)]
fn real_executor_10k(b: Bencher, s: Strategy) {
    bench_real(b, s, 10_000);
}

/// The same executors with zero-time handlers, 1M events.
#[divan::bench(args = Strategy::ALL, sample_count = 3, sample_size = 1)]
fn real_executor_1m(b: Bencher, s: Strategy) {
    bench_real(b, s, 1_000_000);
}

/// Timer precision on the real clock: one account's chain of 10,000 events of 100 µs each.
/// The floor is 1.000 s; everything above it is what the timer and the hand-off to the
/// account's next event lose (with `precise`, a few µs per event; `sleep` shows the price
/// of waiting in the kernel). Wall time, so it is noisy on a shared machine.
#[divan::bench(args = [TimerMode::Precise, TimerMode::Sleep], sample_count = 3, sample_size = 1)]
fn timer_chain_10k_x_100us(b: Bencher, mode: TimerMode) {
    // The runtime `run` gives a sleep-only run (one worker fewer than cores with `precise`).
    let rt = eventbench::engine::sleep_runtime(mode, false).unwrap();
    // Inside the runtime, so that `precise` gets its pump task there.
    let timer = {
        let _in_runtime = rt.enter();
        TimerThread::with_mode(mode).unwrap()
    };
    let mut chain = Workload::new(Source::Live("chain".into()), Micros(100));
    for id in 1..=10_000 {
        chain.push(EventId(id), AccountId(1), None);
    }
    let plan = Plan::new(Strategy::Optimal, Workers::Auto).unwrap();
    b.counter(ItemsCount::new(10_000u64))
        .with_inputs(|| LaidOut::new(chain.clone(), plan))
        .bench_local_values(|laid_out| {
            rt.block_on(async {
                let clock = PreciseClock::new(timer.handle());
                let run = Launched::launch(laid_out, SleepHandler, clock);
                run.wait().await;
                run.finish()
            })
        });
}

/// A whole virtual-clock run of `optimal` with 100 workers: simulate, verify, build the report.
#[divan::bench(args = [10_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn virtual_run(b: Bencher, events: u64) {
    let w = workload(events);
    let workers = Workers::Fixed(NonZeroU32::new(LANES as u32).unwrap());
    let plan = Plan::new(Strategy::Optimal, workers).unwrap();
    simulate_and_report(b, w, plan, events);
}

/// What `run --clock virtual` does by default (one lane per account: the one-pass schedule),
/// then verify and report, at 10M events over 1M accounts (issue 28's 10M run, loading apart:
/// see the loader bench). Left out of `cargo test`'s unoptimised pass over the benches:
/// `cargo bench --bench engine -- --include-ignored own_lanes_run_10m`.
#[divan::bench(ignore, sample_count = 3, sample_size = 1)]
fn own_lanes_run_10m(b: Bencher) {
    let events = 10_000_000;
    let w = workload(events);
    let plan = Plan::new(Strategy::Optimal, Workers::Auto).unwrap();
    simulate_and_report(b, w, plan, events);
}

/// Benches simulating `w` under `plan` on the virtual clock, verifying and reporting.
fn simulate_and_report(b: Bencher, w: &'static Workload, plan: Plan, events: u64) {
    let info = RunInfo {
        plan,
        clock: ClockKind::Virtual,
    };
    b.counter(ItemsCount::new(events)).bench_local(|| {
        let exec = sim::run(w, plan.strategy(), plan.lanes(w.account_count() as u64));
        Report::verified(w, info, exec, None).unwrap()
    });
}
