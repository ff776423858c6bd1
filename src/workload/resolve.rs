//! Account ids to dense indexes after loading, in one pass that also counts the chains and
//! hashes the workload's fingerprint.
//!
//! Looking each id up while the file is parsed costs a cache miss per event in a table that
//! the parsing (the file's bytes, the growing columns) keeps pushing out of the cache: at 100
//! million events over 10 million accounts that lookup alone took 18% of the run. So the
//! loader first stores the raw ids (while they fit in 32 bits) and [`Workload::resolve_accounts`]
//! maps them afterwards, with the chain count beside each id's index (one cache miss serves
//! both) and the fingerprint hashed on the way: the shape and the fingerprint then cost no
//! pass of their own, each of which was another cache miss per event.

use super::lookup::AccountLookup;
use super::{Durations, Shape, Workload};
use crate::types::{AccountId, AccountIdx, EventId, EventIdx, Micros};

/// The workload's fingerprint as it is computed: a hash of (event id, account id, duration)
/// in arrival order, one multiply-rotate per word.
pub(super) struct Fingerprint(u64);

impl Fingerprint {
    pub(super) fn new(events: usize) -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325 ^ events as u64)
    }

    #[inline(always)]
    fn mix(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    #[inline(always)]
    pub(super) fn event(&mut self, id: EventId, account: AccountId, duration: Micros) {
        self.mix(id.0);
        self.mix(account.0);
        self.mix(duration.0);
    }
}

/// A raw account id's slot while resolving: its dense index (`u32::MAX` until seen) and how
/// many events it has, side by side so one cache miss serves both.
#[derive(Clone, Copy)]
struct Slot {
    index: u32,
    chain: u32,
}

impl Workload {
    /// The loader's first pass: appends an event whose account id is kept raw until
    /// [`Workload::resolve_accounts`]. Only before any [`Workload::push`] (which resolves).
    pub(super) fn push_raw(&mut self, id: EventId, account: u32, duration: Option<Micros>) {
        debug_assert!(
            self.account_ids.is_empty(),
            "raw events after resolved ones"
        );
        let max = self.raw.get_or_insert(account);
        *max = (*max).max(account);
        self.push_id(id);
        // Not an index yet: the raw id, until resolved.
        self.accounts.push(AccountIdx(account));
        self.len += 1;
        if let Durations::PerEvent(d) = &mut self.durations {
            d.push(duration.expect("per-event workload needs a duration for every event"));
        }
    }

    /// Maps the raw account ids of [`Workload::push_raw`] to dense indexes in order of first
    /// arrival (exactly as [`Workload::push`] would have), keeping the fingerprint and, when
    /// every event takes the same time, the shape. Nothing when no id is raw.
    pub(super) fn resolve_accounts(&mut self) {
        let Some(max) = self.raw.take() else { return };
        let slots = max as usize + 1;
        // A table indexed by id while it is no larger than the events (or the lookup's
        // floor); sparser ids go through the lookup and its map.
        let fingerprint = if slots <= AccountLookup::FLOOR.max(self.len) {
            self.resolve_dense(slots)
        } else {
            self.resolve_sparse()
        };
        self.fingerprint = fingerprint.0.into();
    }

    fn resolve_dense(&mut self, slots: usize) -> Fingerprint {
        let mut table = crate::prefetch::table(
            slots,
            Slot {
                index: u32::MAX,
                chain: 0,
            },
        );
        let mut print = Fingerprint::new(self.len);
        for i in 0..self.len {
            if let Some(ahead) = self.accounts.get(i + crate::prefetch::AHEAD) {
                crate::prefetch::prefetch(&table, ahead.0 as usize);
            }
            let id = self.accounts[i].0;
            let slot = &mut table[id as usize];
            if slot.index == u32::MAX {
                slot.index = self.account_ids.len() as u32;
                self.account_ids.push(AccountId(u64::from(id)));
            }
            slot.chain += 1;
            self.accounts[i] = AccountIdx(slot.index);
            let e = EventIdx(i as u32);
            print.event(self.event_id(e), AccountId(u64::from(id)), self.duration(e));
        }
        if let Durations::Fixed(d) = self.durations {
            let longest = table.iter().map(|s| s.chain).max().unwrap_or(0);
            let shape = self.fixed_shape_of(d, u64::from(longest));
            self.shape = shape.into();
        }
        print
    }

    fn resolve_sparse(&mut self) -> Fingerprint {
        let mut print = Fingerprint::new(self.len);
        for i in 0..self.len {
            let id = AccountId(u64::from(self.accounts[i].0));
            let next = AccountIdx(self.account_ids.len() as u32);
            let index = self.lookup.get_or_insert(id, next, self.account_ids.len());
            if index == next {
                self.account_ids.push(id);
            }
            self.accounts[i] = index;
            let e = EventIdx(i as u32);
            print.event(self.event_id(e), id, self.duration(e));
        }
        print
    }

    /// The shape when every event takes `d` and the longest chain is `longest`.
    pub(super) fn fixed_shape_of(&self, d: Micros, longest: u64) -> Shape {
        let events = self.len as u64;
        Shape {
            events,
            accounts: self.account_ids.len() as u64,
            longest_chain: longest,
            heaviest_account: Micros(longest.saturating_mul(d.0)),
            total_work: Micros(events.saturating_mul(d.0)),
            uniform: Some(d),
        }
    }

    /// A hash of (event id, account id, duration) in arrival order: equal workloads, equal
    /// hash (16 hex digits). Kept once computed; the loader computes it on its way.
    pub fn fingerprint(&self) -> String {
        let h = *self.fingerprint.get_or_init(|| self.hash_events());
        format!("{h:016x}")
    }

    /// [`Workload::fingerprint`]'s hash, computed from the events.
    fn hash_events(&self) -> u64 {
        let mut print = Fingerprint::new(self.len);
        let ids = self.account_ids();
        for e in self.indexes() {
            self.prefetch_ahead(ids, e);
            print.event(
                self.event_id(e),
                self.account_id(self.account_of(e)),
                self.duration(e),
            );
        }
        print.0
    }
}

#[cfg(test)]
mod tests;
