//! A workload's shape: the counts and sums behind the lower bound and the reports, each a
//! pass over the events with a cache miss per event, so computed once and kept.

use super::{Durations, Workload};
use crate::types::{EventIdx, Micros};

/// Summary numbers of a workload that the lower bound and the reports need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub events: u64,
    pub accounts: u64,
    /// Most events of one account.
    pub longest_chain: u64,
    /// Most total processing time of one account.
    pub heaviest_account: Micros,
    /// Sum of all processing times.
    pub total_work: Micros,
    /// `Some(d)` when every event takes exactly `d`.
    pub uniform: Option<Micros>,
}

impl Shape {
    /// The report's `process_time_s`: the one duration, or the mean of per-event ones.
    pub fn process_time_s(&self) -> f64 {
        match self.uniform {
            Some(d) => d.as_secs_f64(),
            None if self.events > 0 => self.total_work.as_secs_f64() / self.events as f64,
            None => 0.0,
        }
    }
}

impl Workload {
    /// Computes the counts and sums behind the lower bound in one pass.
    pub fn shape(&self) -> Shape {
        *self.shape.get_or_init(|| match self.durations {
            Durations::Fixed(d) => self.fixed_shape(d),
            Durations::PerEvent(_) => self.shape_of(|_| true),
        })
    }

    /// [`Workload::shape`] when every event takes `d`: an account's work is its chain times
    /// `d`, so only the chains are counted, in 4 bytes an account instead of 16 (a table a
    /// quarter the size, which stays in cache far longer at ten million accounts).
    fn fixed_shape(&self, d: Micros) -> Shape {
        let mut chains = vec![0u32; self.account_ids.len()];
        for e in self.indexes() {
            self.prefetch_ahead(&chains, e);
            chains[self.account_of(e).0 as usize] += 1;
        }
        let longest = u64::from(chains.iter().copied().max().unwrap_or(0));
        self.fixed_shape_of(d, longest)
    }

    /// The shape of the events `keep` selects (e.g. those that ran before an interruption);
    /// `accounts` still counts every account of the workload.
    pub fn shape_of(&self, keep: impl Fn(EventIdx) -> bool) -> Shape {
        /// One account's chain length and work, side by side: one cache miss per event.
        #[derive(Clone, Copy, Default)]
        struct Sum {
            chain: u64,
            work: u64,
        }
        let mut sums = vec![Sum::default(); self.account_ids.len()];
        let mut total = 0u64;
        let mut events = 0u64;
        let mut uniform = (self.len > 0).then(|| self.duration(EventIdx(0)));
        for e in self.indexes() {
            self.prefetch_ahead(&sums, e);
            if !keep(e) {
                continue;
            }
            events += 1;
            let sum = &mut sums[self.account_of(e).0 as usize];
            let d = self.duration(e);
            sum.chain += 1;
            sum.work = sum.work.saturating_add(d.0);
            total = total.saturating_add(d.0);
            if uniform.is_some_and(|u| u != d) {
                uniform = None;
            }
        }
        if let Durations::Fixed(d) = self.durations {
            uniform = Some(d);
        }
        Shape {
            events,
            accounts: self.account_ids.len() as u64,
            longest_chain: sums.iter().map(|s| s.chain).max().unwrap_or(0),
            heaviest_account: Micros(sums.iter().map(|s| s.work).max().unwrap_or(0)),
            total_work: Micros(total),
            uniform,
        }
    }
}
