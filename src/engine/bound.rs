//! The lower bound on any schedule's length, against which every run's efficiency is stated.
//!
//! With W lanes no schedule can beat the longest account (its events are sequential) nor the
//! total work spread perfectly over W lanes. With equal durations d the second term is
//! `ceil(N / W) × d`, because each lane runs whole events; with unequal durations it is
//! `ceil(Σd / W)`.

use crate::types::Micros;
use crate::workload::Shape;

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
}
