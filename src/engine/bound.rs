//! The lower bound on any schedule's length, against which every run's efficiency is stated.
//!
//! With W lanes no schedule can beat the longest account (its events are sequential) nor the
//! total work spread perfectly over W lanes. With equal durations d the second term is
//! `ceil(N / W) × d`, because each lane runs whole events; with unequal durations it is
//! `ceil(Σd / W)`.
//!
//! Events that arrive over time (live runs) cannot start before they arrive, which gives
//! [`lower_bound_over_arrivals`]; with every arrival at 0 it is [`lower_bound`].

use crate::types::{EventIdx, Micros};
use crate::workload::{Shape, Workload};

/// `max(longest account, total work / lanes)`; `lanes = None` means one lane per account.
pub fn lower_bound(shape: &Shape, lanes: Option<u64>) -> Micros {
    let chain = shape.heaviest_account;
    let Some(w) = lanes.filter(|&w| w > 0) else {
        return chain;
    };
    let spread = match shape.uniform {
        Some(d) => Micros(shape.events.div_ceil(w).saturating_mul(d.0)),
        None => Micros(shape.total_work.0.div_ceil(w)),
    };
    chain.max(spread)
}

/// The earliest time the last of the kept events can end, when each may start no earlier
/// than its `arrival` (times on the arrivals' own clock). Two facts bind every schedule:
///
/// - an event and every later event of its account run one after another, after it arrived:
///   `max over e of (arrival(e) + work of e and of every later event of its account)`;
/// - with W lanes, the events arriving at or after any instant t all run after t, at most W
///   at a time: `max over t of (t + ceil(work arriving at or after t / W))`, or with equal
///   durations d, `t + ceil(count arriving at or after t / W) × d` (some lane runs that many
///   whole events after t).
///
/// Events of one account must be given in their order (the workload's). `lanes = None` means
/// one lane per account: only the first term.
pub fn lower_bound_over_arrivals(
    w: &Workload,
    lanes: Option<u64>,
    arrival: impl Fn(EventIdx) -> Micros,
    keep: impl Fn(EventIdx) -> bool,
) -> Micros {
    let lanes = lanes.filter(|&l| l > 0);
    let uniform = w.shape_of(&keep).uniform;
    let mut after = vec![0u64; w.account_count()];
    let mut chain = 0u64;
    let mut arrived: Vec<(u64, u64)> = Vec::new();
    for e in (0..w.len() as u32).rev().map(EventIdx).filter(|&e| keep(e)) {
        let (at, d) = (arrival(e).0, w.duration(e).0);
        let rest = &mut after[w.account_of(e).0 as usize];
        *rest = rest.saturating_add(d);
        chain = chain.max(at.saturating_add(*rest));
        if lanes.is_some() {
            arrived.push((at, d));
        }
    }
    let Some(l) = lanes else {
        return Micros(chain);
    };
    // Latest arrival first: each instant then has the work arriving at or after it summed.
    arrived.sort_unstable_by_key(|&(at, _)| std::cmp::Reverse(at));
    let (mut spread, mut work, mut count) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while i < arrived.len() {
        let t = arrived[i].0;
        while i < arrived.len() && arrived[i].0 == t {
            work = work.saturating_add(arrived[i].1);
            count += 1;
            i += 1;
        }
        let need = match uniform {
            Some(d) => count.div_ceil(l).saturating_mul(d.0),
            None => work.div_ceil(l),
        };
        spread = spread.max(t.saturating_add(need));
    }
    Micros(chain.max(spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(events: u64, chain: u64, d: u64) -> Shape {
        Shape {
            events,
            accounts: 0,
            longest_chain: chain,
            heaviest_account: Micros(chain * d),
            total_work: Micros(events * d),
            uniform: Some(Micros(d)),
        }
    }

    #[test]
    fn classic_workload_bound_is_the_longest_chain() {
        let s = shape(10_000, 22, 1_000_000);
        assert_eq!(lower_bound(&s, None), Micros(22_000_000));
        assert_eq!(lower_bound(&s, Some(1000)), Micros(22_000_000));
        assert_eq!(lower_bound(&s, Some(500)), Micros(22_000_000));
        assert_eq!(lower_bound(&s, Some(100)), Micros(100_000_000));
    }

    #[test]
    fn equal_durations_round_up_to_whole_events() {
        // 10 events on 3 lanes need 4 rounds, not 3.33.
        assert_eq!(lower_bound(&shape(10, 1, 1_000), Some(3)), Micros(4_000));
    }

    #[test]
    fn unequal_durations_use_total_work() {
        let s = Shape {
            events: 3,
            accounts: 3,
            longest_chain: 1,
            heaviest_account: Micros(5),
            total_work: Micros(10),
            uniform: None,
        };
        assert_eq!(lower_bound(&s, Some(3)), Micros(5));
        assert_eq!(lower_bound(&s, Some(1)), Micros(10));
    }

    /// A live workload: `(account, arrival µs, duration µs)` in arrival order.
    fn live(events: &[(u64, u64, u64)]) -> (Workload, Vec<Micros>) {
        use crate::types::{AccountId, EventId};
        let mut w = Workload::with_durations(
            crate::workload::Source::Live("t".into()),
            crate::workload::Durations::PerEvent(Vec::new()),
        );
        let mut at = Vec::new();
        for (i, &(a, t, d)) in events.iter().enumerate() {
            w.push(EventId(i as u64), AccountId(a), Some(Micros(d)));
            at.push(Micros(t));
        }
        (w, at)
    }

    fn over_arrivals(events: &[(u64, u64, u64)], lanes: Option<u64>) -> Micros {
        let (w, at) = live(events);
        lower_bound_over_arrivals(&w, lanes, |e| at[e.0 as usize], |_| true)
    }

    #[test]
    fn an_account_cannot_start_before_its_events_arrive() {
        // Account 1: 10 µs at 0, then 10 µs arriving at 100: the chain ends at 110, not 20.
        assert_eq!(
            over_arrivals(&[(1, 0, 10), (1, 100, 10)], None),
            Micros(110)
        );
        // A late event's successors count from its arrival: 50 + 10 + 30 = 90 > 0 + 45.
        let events = [(1, 0, 5), (1, 50, 10), (1, 50, 30), (2, 0, 60)];
        assert_eq!(over_arrivals(&events, None), Micros(90));
    }

    #[test]
    fn lanes_bound_the_work_that_arrives_after_each_instant() {
        // Six 10 µs events of six accounts, two at 0 and four at 100, on two lanes: the four
        // late ones need two rounds after 100 → 120 (the chain term alone says 110).
        let events = [
            (1, 0, 10),
            (2, 0, 10),
            (3, 100, 10),
            (4, 100, 10),
            (5, 100, 10),
            (6, 100, 10),
        ];
        assert_eq!(over_arrivals(&events, Some(2)), Micros(120));
        assert_eq!(over_arrivals(&events, None), Micros(110));
        // Unequal durations: 7 + 5 + 6 µs arriving at 10 on 2 lanes → 10 + ceil(18 / 2) = 19;
        // on 3 lanes account 2's 10 + 7 binds instead; on one lane 10 + 18.
        let events = [(1, 0, 3), (2, 10, 7), (3, 10, 5), (4, 10, 6)];
        assert_eq!(over_arrivals(&events, Some(2)), Micros(19));
        assert_eq!(over_arrivals(&events, Some(3)), Micros(17));
        assert_eq!(over_arrivals(&events, Some(1)), Micros(28));
    }

    #[test]
    fn all_arrivals_at_zero_give_the_batch_bound() {
        let events = [
            (1, 0, 4),
            (1, 0, 4),
            (2, 0, 4),
            (3, 0, 4),
            (3, 0, 4),
            (3, 0, 4),
        ];
        let (w, _) = live(&events);
        for lanes in [None, Some(1), Some(2), Some(4)] {
            assert_eq!(
                over_arrivals(&events, lanes),
                lower_bound(&w.shape(), lanes),
                "{lanes:?}"
            );
        }
    }

    #[test]
    fn only_kept_events_count() {
        let (w, at) = live(&[(1, 0, 10), (1, 100, 10)]);
        let first = lower_bound_over_arrivals(&w, None, |e| at[e.0 as usize], |e| e.0 == 0);
        assert_eq!(first, Micros(10));
    }
}
