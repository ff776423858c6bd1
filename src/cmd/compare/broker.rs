//! `compare --broker`: the RabbitMQ runs of a sweep. For every numeric worker count W, the
//! original design (W queues, one message at a time per queue: the `sharded` schedule) and our
//! consumer (each strategy of the sweep with W lanes over W queues), always on the real clock.

use super::{StrategyList, SweepRun, WorkerList};
use crate::engine::timer::TimerMode;
use crate::engine::{ClockKind, Plan, Strategy, Workers};
use crate::report::{Backend, Design, Report};

/// The broker runs of a sweep (their consumers' sleeps end as `timer` says), and notes on what
/// was left out (`auto`, `per-account`).
pub(super) fn runs(
    strategies: &StrategyList,
    workers: &WorkerList,
    timer: TimerMode,
) -> (Vec<SweepRun>, Vec<String>) {
    let ours: Vec<Strategy> = strategies
        .0
        .iter()
        .copied()
        .filter(|&s| s != Strategy::PerAccount)
        .collect();
    let mut notes = Vec::new();
    if ours.len() < strategies.0.len() {
        notes.push(
            "per-account has no worker count to map to queues: it runs in memory only".into(),
        );
    }
    let mut runs = Vec::new();
    for &w in &workers.0 {
        let Workers::Fixed(_) = w else {
            notes.push(
                "workers = auto would mean one queue per account: it runs in memory only".into(),
            );
            continue;
        };
        let mut add = |strategy, backend| {
            if let Ok(plan) = Plan::new(strategy, w) {
                runs.push(SweepRun {
                    plan,
                    clock: ClockKind::Real,
                    timer,
                    backend,
                });
            }
        };
        add(Strategy::Sharded, Backend::Broker(Design::Original));
        for &s in &ours {
            add(s, Backend::Broker(Design::Ours));
        }
    }
    (runs, notes)
}

/// Under the table when broker runs sit beside in-memory runs of another clock.
pub(super) fn clock_note(runs: &[Report]) -> Option<String> {
    let memory = runs.iter().find(|r| r.backend == Backend::Memory)?;
    let brokered = runs.iter().find(|r| r.backend != Backend::Memory)?;
    (memory.clock != brokered.clock).then(|| {
        format!(
            "note: in-memory runs on the {} clock, RabbitMQ runs on the {} clock",
            memory.clock, brokered.clock
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_numeric_worker_count_gets_the_original_and_ours() {
        let s: StrategyList = "per-account,optimal".parse().unwrap();
        let w: WorkerList = "5,auto,10".parse().unwrap();
        let (runs, notes) = runs(&s, &w, TimerMode::Sleep);
        assert!(runs.iter().all(|r| r.timer == TimerMode::Sleep));
        let got: Vec<(Strategy, String, Backend)> = runs
            .iter()
            .map(|j| (j.plan.strategy(), j.plan.workers().to_string(), j.backend))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Strategy::Sharded,
                    "5".into(),
                    Backend::Broker(Design::Original)
                ),
                (Strategy::Optimal, "5".into(), Backend::Broker(Design::Ours)),
                (
                    Strategy::Sharded,
                    "10".into(),
                    Backend::Broker(Design::Original)
                ),
                (
                    Strategy::Optimal,
                    "10".into(),
                    Backend::Broker(Design::Ours)
                ),
            ]
        );
        assert!(runs.iter().all(|j| j.clock == ClockKind::Real));
        assert_eq!(notes.len(), 2, "{notes:?}");
    }
}
