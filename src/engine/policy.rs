//! Ready queues: the one decision a work-conserving strategy makes, "which ready account next".
//!
//! An account is *ready* when it has a pending event and none of its events is running. A
//! [`ReadyQueue`] holds ready accounts; adding a strategy of this family is one new type here.

use crate::types::AccountIdx;
use std::collections::{BTreeMap, VecDeque};

/// What a ready queue may ask about an account when deciding whether an entry is current.
pub trait AccountView {
    /// The account's version: it changes whenever the account is re-queued or gains work, so
    /// an entry made before that is stale.
    fn version(&self, a: AccountIdx) -> u32;
}

/// A set of ready accounts with a policy for which one leaves first.
pub trait ReadyQueue: Send + 'static {
    /// `a` became ready with `remaining` work pending, at `version`.
    fn push(&mut self, a: AccountIdx, remaining: u64, version: u32);
    /// `a` is already queued but got more work (a live arrival) and is now at `version`.
    fn grow(&mut self, a: AccountIdx, remaining: u64, version: u32);
    /// Removes and returns the next account to run.
    fn pop(&mut self, view: &dyn AccountView) -> Option<AccountIdx>;
}

/// `pool`: first ready, first served.
#[derive(Default)]
pub struct Fifo {
    queue: VecDeque<AccountIdx>,
}

impl ReadyQueue for Fifo {
    fn push(&mut self, a: AccountIdx, _remaining: u64, _version: u32) {
        self.queue.push_back(a);
    }

    fn grow(&mut self, _a: AccountIdx, _remaining: u64, _version: u32) {
        // Position in a FIFO does not depend on how much work the account has.
    }

    fn pop(&mut self, _view: &dyn AccountView) -> Option<AccountIdx> {
        self.queue.pop_front()
    }
}

/// `optimal`: the ready account with the most remaining work first; ties go to the account
/// that became ready first, so runs are deterministic.
///
/// Why this is optimal for equal durations: each account is a chain of unit jobs, and "run the
/// W longest remaining chains" is Hu's highest-level-first rule, optimal for in-forests of
/// unit jobs on W identical machines (Hu 1961). For chains it meets the lower bound
/// `max(L, ceil(N/W))` exactly: while at least W chains remain, every lane is busy and the
/// longest chains shrink first, so the longest never exceeds `ceil(remaining / W)` by more
/// than the rounds left; once fewer than W chains remain each runs every round and the run
/// ends after the longest one.
///
/// With unequal durations (a `duration_us` column) this is a heuristic, not an optimum: the
/// problem is NP-hard already for independent events (P||Cmax), and ordering by remaining work
/// is the chain analogue of LPT (longest processing time first). It is still work-conserving,
/// so Graham's bound holds: never above twice the lower bound; in practice it lands close to
/// the bound (measured figures: `results/README.md`). Small
/// adversarial cases exist where it loses to `pool`: two workers, account A with two 2 µs
/// events arriving before accounts B and C with one 5 µs event each; this starts B and C first
/// and finishes A's chain at 9 µs, while FIFO starts A at once and meets the bound, 7 µs (the
/// property tests in `tests/it/scheduler_props.rs` look for such cases). So when a preloaded
/// workload has unequal durations, `optimal` simulates this order and ready order exactly and
/// runs the shorter one ([`super::sim::scheduler_for`]): it never loses to `pool` there.
/// Live arrivals (`serve`, `worker`) cannot be simulated ahead and use this order.
#[derive(Default)]
pub struct MostWork {
    /// Ready accounts bucketed by remaining work, FIFO inside a bucket. With equal durations
    /// there are only as many buckets as distinct chain lengths, so a million ready accounts
    /// cost O(1) each instead of a binary heap's cache-missing O(log n).
    buckets: BTreeMap<u64, VecDeque<(AccountIdx, u32)>>,
    /// Emptied buckets kept for reuse, so steady state allocates nothing.
    spare: Vec<VecDeque<(AccountIdx, u32)>>,
    /// Superseded entries still queued; while zero, no entry needs checking (and checking
    /// costs a cache miss per pop on a million accounts).
    stale: usize,
}

impl ReadyQueue for MostWork {
    fn push(&mut self, a: AccountIdx, remaining: u64, version: u32) {
        let spare = &mut self.spare;
        self.buckets
            .entry(remaining)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push_back((a, version));
    }

    fn grow(&mut self, a: AccountIdx, remaining: u64, version: u32) {
        // The old entry stays behind and is skipped as stale when it surfaces.
        self.stale += 1;
        self.push(a, remaining, version);
    }

    fn pop(&mut self, view: &dyn AccountView) -> Option<AccountIdx> {
        loop {
            let mut bucket = self.buckets.last_entry()?;
            let entry = bucket.get_mut().pop_front();
            if bucket.get().is_empty() {
                self.spare.push(bucket.remove());
            }
            if let Some((a, version)) = entry {
                if self.stale == 0 || view.version(a) == version {
                    return Some(a);
                }
                self.stale -= 1;
            }
        }
    }
}

/// `optimal` on the real clock when ready order nearly ties most work first (see
/// [`super::sim::scheduler_for`]): ready order while much work is queued, so that ends stay
/// spread out as they arrive, then most work first once no more than `switch_at` µs of work
/// is queued, so that the last events are dealt longest first and the lanes finish together
/// (list scheduling's tail otherwise costs up to one event's length).
pub struct ReadyThenMostWork {
    /// Ready accounts in ready order, with the work each had when queued.
    fifo: VecDeque<(AccountIdx, u64, u32)>,
    /// The tail, once switched.
    most: MostWork,
    /// Work of the accounts in `fifo`. A live arrival's growth is not added (this queue is
    /// built only for preloaded workloads, whose accounts are queued with all their work).
    queued: u64,
    switch_at: u64,
    switched: bool,
}

impl ReadyThenMostWork {
    pub fn new(switch_at: u64) -> Self {
        ReadyThenMostWork {
            fifo: VecDeque::new(),
            most: MostWork::default(),
            queued: 0,
            switch_at,
            switched: false,
        }
    }
}

impl ReadyQueue for ReadyThenMostWork {
    fn push(&mut self, a: AccountIdx, remaining: u64, version: u32) {
        if self.switched {
            self.most.push(a, remaining, version);
        } else {
            self.fifo.push_back((a, remaining, version));
            self.queued += remaining;
        }
    }

    fn grow(&mut self, a: AccountIdx, remaining: u64, version: u32) {
        if self.switched {
            self.most.grow(a, remaining, version);
        }
        // In ready order the position does not depend on the work (see `queued`).
    }

    fn pop(&mut self, view: &dyn AccountView) -> Option<AccountIdx> {
        if !self.switched && self.queued <= self.switch_at {
            self.switched = true;
            for (a, remaining, version) in self.fifo.drain(..) {
                self.most.push(a, remaining, version);
            }
        }
        if self.switched {
            return self.most.pop(view);
        }
        let (a, remaining, _) = self.fifo.pop_front()?;
        self.queued -= remaining;
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Versions(Vec<u32>);
    impl AccountView for Versions {
        fn version(&self, a: AccountIdx) -> u32 {
            self.0[a.0 as usize]
        }
    }

    #[test]
    fn most_work_pops_heaviest_then_earliest() {
        let v = Versions(vec![0; 4]);
        let mut q = MostWork::default();
        q.push(AccountIdx(0), 5, 0);
        q.push(AccountIdx(1), 9, 0);
        q.push(AccountIdx(2), 5, 0);
        assert_eq!(q.pop(&v), Some(AccountIdx(1)));
        assert_eq!(q.pop(&v), Some(AccountIdx(0)));
        assert_eq!(q.pop(&v), Some(AccountIdx(2)));
        assert_eq!(q.pop(&v), None);
    }

    #[test]
    fn most_work_skips_stale_entries() {
        let mut v = Versions(vec![0; 2]);
        let mut q = MostWork::default();
        q.push(AccountIdx(0), 5, 0);
        q.push(AccountIdx(1), 3, 0);
        v.0[1] = 1;
        q.grow(AccountIdx(1), 8, 1);
        assert_eq!(q.pop(&v), Some(AccountIdx(1)));
        assert_eq!(q.pop(&v), Some(AccountIdx(0)));
        assert_eq!(q.pop(&v), None, "the stale entry of account 1 is dropped");
    }

    #[test]
    fn fifo_keeps_ready_order() {
        let v = Versions(vec![0; 3]);
        let mut q = Fifo::default();
        for a in [2, 0, 1] {
            q.push(AccountIdx(a), 1, 0);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop(&v)).map(|a| a.0).collect();
        assert_eq!(order, vec![2, 0, 1]);
    }

    #[test]
    fn ready_order_until_little_work_is_queued_then_most_work() {
        let v = Versions(vec![0; 5]);
        // 3 + 1 + 9 + 2 + 5 = 20 µs queued; most work first once at most 8 µs are.
        let mut q = ReadyThenMostWork::new(8);
        for (a, work) in [(0, 3), (1, 1), (2, 9), (3, 2), (4, 5)] {
            q.push(AccountIdx(a), work, 0);
        }
        let order: Vec<u32> = std::iter::from_fn(|| q.pop(&v)).map(|a| a.0).collect();
        // 20 > 8: 0 (17 left), 1 (16), 2 (7 ≤ 8): then 4 (5) before 3 (2).
        assert_eq!(order, vec![0, 1, 2, 4, 3]);
    }
}
