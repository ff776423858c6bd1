//! Event generation (temporary minimal version).
use super::{Source, Workload};
use crate::types::{AccountId, EventId, Micros};
use rand::{Rng, SeedableRng};

pub const BUILTIN_SEED: u64 = 20241126;

pub struct Spec {
    pub events: u64,
    pub max_account_id: u64,
    pub seed: u64,
}

pub fn builtin_spec() -> Spec {
    Spec {
        events: 10_000,
        max_account_id: 1000,
        seed: BUILTIN_SEED,
    }
}

pub fn build(spec: &Spec, process_time: Micros) -> Workload {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let mut w = Workload::new(Source::Builtin { seed: spec.seed }, process_time);
    for i in 1..=spec.events {
        w.push(
            EventId(i),
            AccountId(rng.random_range(1..=spec.max_account_id)),
            None,
        );
    }
    w
}
