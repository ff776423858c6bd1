//! Looking ids up while a workload is loaded: a cheap hasher for id-keyed maps, and the map
//! from account ids to dense account indexes.

use crate::types::{AccountId, AccountIdx};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for `u64` ids: one multiply-xorshift instead of SipHash. Ids come from files the
/// user controls, not from an adversary, and lookups sit on the loading hot path.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A map keyed by ids, hashed with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Account id to dense index. Ids are usually small and dense (`generate` writes 1..=max), and
/// then a plain table indexed by id costs one mostly cached read where a hash map of millions
/// of accounts costs two cache misses per event. Ids the table does not reach (yet) go to an
/// overflow map.
///
/// The table may hold [`Self::SLOTS_PER_ACCOUNT`] slots per account seen so far, and always
/// [`Self::FLOOR`]. Ids come in random order, so early on an id can be beyond what the table
/// may hold even when the ids are dense: such ids wait in the overflow map and move into the
/// table once it has grown past them. (Switching to a map for good on the first such id sent a
/// 100M-event workload over 10M accounts through a 10M-entry hash map: 65% of its run time.)
/// Truly sparse ids (e.g. random 64-bit ones) never fit and stay in the map.
#[derive(Clone, Debug, Default)]
pub(super) struct AccountLookup {
    /// `table[id]` is the index, or `u32::MAX` for an id not seen (or not moved in yet: see
    /// `overflow`). An id below `table.len()` is never in `overflow`.
    pub(super) table: Vec<u32>,
    /// Ids at or beyond `table.len()`.
    pub(super) overflow: IdMap<AccountId, AccountIdx>,
}

impl AccountLookup {
    /// Slots per known account the table may hold before further ids count as sparse.
    const SLOTS_PER_ACCOUNT: usize = 8;
    /// Slots the table may always hold (16 MB).
    pub(super) const FLOOR: usize = 1 << 22;

    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty() && self.overflow.is_empty()
    }

    /// The index of `id`, inserting `next` when the id is new; `known` accounts are known so
    /// far.
    pub(super) fn get_or_insert(
        &mut self,
        id: AccountId,
        next: AccountIdx,
        known: usize,
    ) -> AccountIdx {
        let slot = usize::try_from(id.0).unwrap_or(usize::MAX);
        if slot >= self.table.len() {
            let allowed = (known + 1)
                .saturating_mul(Self::SLOTS_PER_ACCOUNT)
                .saturating_add(Self::FLOOR);
            if slot >= allowed {
                return *self.overflow.entry(id).or_insert(next);
            }
            self.grow((slot + 1).max(self.table.len() * 2).min(allowed));
        }
        let entry = &mut self.table[slot];
        if *entry == u32::MAX {
            *entry = next.0;
        }
        AccountIdx(*entry)
    }

    /// Grows the table to `len` slots and moves in the overflow ids it now reaches.
    fn grow(&mut self, len: usize) {
        self.table.resize(len, u32::MAX);
        if self.overflow.is_empty() {
            return;
        }
        let table = &mut self.table;
        self.overflow.retain(|id, idx| match usize::try_from(id.0) {
            Ok(slot) if slot < len => {
                table[slot] = idx.0;
                false
            }
            _ => true,
        });
    }

    pub(super) fn rebuild(ids: &[AccountId]) -> Self {
        let mut lookup = AccountLookup::default();
        for (i, id) in ids.iter().enumerate() {
            lookup.get_or_insert(*id, AccountIdx(i as u32), i);
        }
        lookup
    }
}
