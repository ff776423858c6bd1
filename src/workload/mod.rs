//! Workloads: the events of a run in arrival order, with dense account indexes and durations.
//!
//! The layout is columnar (one vector per field) so that ten million events fit in a few hundred
//! megabytes and every engine can address events and accounts by dense `u32` indexes.

pub mod csv;
pub mod generate;
pub mod line_limit;
mod lookup;
mod resolve;
mod shape;

use crate::error::InputError;
use crate::types::{AccountId, AccountIdx, EventId, EventIdx, Micros};
use lookup::AccountLookup;
pub use lookup::{IdHasher, IdMap};
pub use shape::Shape;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What standard input is called in reports and error messages.
pub const STDIN_NAME: &str = "<stdin>";

/// True for the input name `-`, which means standard input (as `generate --output -` means
/// standard output), so that commands can be piped together.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// True when standard input carries data a command could read in place of `--input`: a pipe
/// (`generate --output - | eventbench run`) or a redirected file (`eventbench run < e.csv`).
/// A terminal, `/dev/null` (a character device) or a closed standard input is not.
pub fn stdin_is_piped() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
            return false;
        };
        let Ok(meta) = std::fs::File::from(fd).metadata() else {
            return false;
        };
        meta.file_type().is_fifo() || meta.is_file()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// True when standard input has nothing to read (waits for the first byte or the end; what
/// it reads stays buffered for the loader).
pub fn stdin_is_empty() -> std::io::Result<bool> {
    use std::io::BufRead;
    Ok(std::io::stdin().lock().fill_buf()?.is_empty())
}

/// An opened input file or standard input.
pub struct Input {
    pub reader: Box<dyn Read + Send>,
    /// The name for messages and reports: the path, or [`STDIN_NAME`].
    pub name: PathBuf,
    /// The size in bytes, when known up front (files, not pipes).
    pub size: Option<u64>,
}

/// Opens an input named on the command line: `-` is standard input, anything else a file.
pub fn open_input(path: &Path) -> Result<Input, InputError> {
    if is_stdin(path) {
        return Ok(Input {
            reader: Box::new(std::io::stdin()),
            name: PathBuf::from(STDIN_NAME),
            size: None,
        });
    }
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    Ok(Input {
        reader: Box::new(file),
        name: path.to_path_buf(),
        size: Some(size),
    })
}

/// Where a workload came from; printed in every report so a number is never detached from its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The fixed built-in workload (see [`generate::builtin_spec`]).
    Builtin { seed: u64 },
    /// An events CSV file.
    File(std::path::PathBuf),
    /// Events that arrived while the engine ran (web API, broker).
    Live(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin { seed } => write!(f, "built-in workload (seed {seed})"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Live(what) => write!(f, "{what}"),
        }
    }
}

/// How long each event's handler must run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Durations {
    /// Every event takes the same time (`--process-time`).
    Fixed(Micros),
    /// Each event has its own time (the `duration_us` column), indexed by [`EventIdx`].
    PerEvent(Vec<Micros>),
}

/// The events of one run, in arrival order.
#[derive(Clone, Debug)]
pub struct Workload {
    source: Source,
    /// Event ids, or empty while they are `first_id, first_id + 1, ...` in arrival order (what
    /// `generate` writes): then they cost no memory.
    event_ids: Vec<EventId>,
    first_id: Option<u64>,
    len: usize,
    accounts: Vec<AccountIdx>,
    durations: Durations,
    account_ids: Vec<AccountId>,
    lookup: AccountLookup,
    /// [`Workload::shape`] once asked for: the announcement, the report and its bound each
    /// want it, and every pass costs a cache miss per event (a second at 100 million events).
    /// Pushing an event or replacing the durations forgets it.
    shape: std::sync::OnceLock<Shape>,
    /// [`Workload::fingerprint`] once known (the loader's resolving pass hashes on its way);
    /// forgotten as `shape` is.
    fingerprint: std::sync::OnceLock<u64>,
    /// While the loader's first pass runs: `accounts` holds raw account ids (each below
    /// 2^32), the largest of them this. See [`resolve`].
    raw: Option<u32>,
}

impl Workload {
    /// An empty workload whose events all take `process_time`.
    pub fn new(source: Source, process_time: Micros) -> Self {
        Self::with_durations(source, Durations::Fixed(process_time))
    }

    /// An empty workload; with `Durations::PerEvent`, every pushed event must carry its duration.
    pub fn with_durations(source: Source, durations: Durations) -> Self {
        Workload {
            source,
            event_ids: Vec::new(),
            first_id: None,
            len: 0,
            accounts: Vec::new(),
            durations,
            account_ids: Vec::new(),
            lookup: AccountLookup::default(),
            shape: std::sync::OnceLock::new(),
            fingerprint: std::sync::OnceLock::new(),
            raw: None,
        }
    }

    /// Reserves room for `events` more events (loaders know the count up front).
    pub fn reserve(&mut self, events: usize) {
        self.accounts.reserve(events);
        if let Durations::PerEvent(d) = &mut self.durations {
            d.reserve(events);
        }
    }

    /// Appends an event at the end of the arrival order and returns its index.
    ///
    /// `duration` is used only by per-event workloads (it must be `Some` there) and ignored by
    /// fixed ones. Uniqueness of event ids is the loader's job; this does not check it.
    pub fn push(&mut self, id: EventId, account: AccountId, duration: Option<Micros>) -> EventIdx {
        let idx = EventIdx(u32::try_from(self.len).expect("more than 2^32 events"));
        self.resolve_accounts();
        self.forget_summaries();
        if self.lookup.is_empty() && !self.account_ids.is_empty() {
            self.rebuild_lookup();
        }
        let next_account = AccountIdx(self.account_ids.len() as u32);
        let acct = self
            .lookup
            .get_or_insert(account, next_account, self.account_ids.len());
        if acct == next_account {
            self.account_ids.push(account);
        }
        self.push_id(id);
        self.accounts.push(acct);
        self.len += 1;
        if let Durations::PerEvent(d) = &mut self.durations {
            d.push(duration.expect("per-event workload needs a duration for every event"));
        }
        idx
    }

    /// Forgets what was computed from the events: they changed.
    fn forget_summaries(&mut self) {
        self.shape.take();
        self.fingerprint.take();
    }

    fn push_id(&mut self, id: EventId) {
        let first = *self.first_id.get_or_insert(id.0);
        let implicit =
            self.event_ids.is_empty() && first.checked_add(self.len as u64) == Some(id.0);
        if implicit {
            return;
        }
        if self.event_ids.is_empty() {
            self.event_ids
                .reserve(self.accounts.capacity().max(self.len + 1));
            self.event_ids
                .extend((0..self.len as u64).map(|i| EventId(first + i)));
        }
        self.event_ids.push(id);
    }

    /// The first `n` events in arrival order (all of them if there are fewer), as a workload of
    /// their own with the same source and durations.
    pub fn first(&self, n: usize) -> Workload {
        let n = n.min(self.len);
        let durations = match &self.durations {
            Durations::Fixed(d) => Durations::Fixed(*d),
            Durations::PerEvent(_) => Durations::PerEvent(Vec::new()),
        };
        let mut w = Workload::with_durations(self.source.clone(), durations);
        w.reserve(n);
        let per_event = self.has_per_event_durations();
        for e in self.indexes().take(n) {
            let d = per_event.then(|| self.duration(e));
            w.push(self.event_id(e), self.account_id(self.account_of(e)), d);
        }
        w.freeze();
        w
    }

    /// Frees the id-to-index map of the accounts (tens of megabytes at a million accounts) once
    /// no more events will be pushed; a later [`Workload::push`] rebuilds it.
    pub fn freeze(&mut self) {
        self.lookup = AccountLookup::default();
    }

    fn rebuild_lookup(&mut self) {
        self.lookup = AccountLookup::rebuild(&self.account_ids);
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn set_source(&mut self, source: Source) {
        self.source = source;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct accounts that have at least one event.
    pub fn account_count(&self) -> usize {
        self.account_ids.len()
    }

    pub fn event_id(&self, e: EventIdx) -> EventId {
        match self.event_ids.get(e.0 as usize) {
            Some(id) => *id,
            None if (e.0 as usize) < self.len => {
                EventId(self.first_id.expect("non-empty workload has a first id") + u64::from(e.0))
            }
            None => panic!("event index {} out of range ({} events)", e.0, self.len),
        }
    }

    pub fn account_of(&self, e: EventIdx) -> AccountIdx {
        self.accounts[e.0 as usize]
    }

    /// For loops over the events in arrival order that touch `per_account[account_of(e)]`:
    /// asks for the slot of the event [`AHEAD`](crate::prefetch::AHEAD) places after `e`.
    #[inline(always)]
    pub fn prefetch_ahead<T>(&self, per_account: &[T], e: EventIdx) {
        if let Some(a) = self.accounts.get(e.0 as usize + crate::prefetch::AHEAD) {
            crate::prefetch::prefetch(per_account, a.0 as usize);
        }
    }

    /// Every account's id, by account index.
    pub fn account_ids(&self) -> &[AccountId] {
        &self.account_ids
    }

    pub fn account_id(&self, a: AccountIdx) -> AccountId {
        self.account_ids[a.0 as usize]
    }

    pub fn duration(&self, e: EventIdx) -> Micros {
        match &self.durations {
            Durations::Fixed(d) => *d,
            Durations::PerEvent(v) => v[e.0 as usize],
        }
    }

    /// Replaces the durations (with the times a real handler measured, so the lower bound and
    /// the checks use what the work actually took) and returns the previous ones.
    pub fn replace_durations(&mut self, durations: Durations) -> Durations {
        if let Durations::PerEvent(d) = &durations {
            assert_eq!(d.len(), self.len, "one duration per event");
        }
        self.forget_summaries();
        std::mem::replace(&mut self.durations, durations)
    }

    pub fn durations(&self) -> &Durations {
        &self.durations
    }

    /// `Some(d)` when every event takes exactly `d` (always so for fixed durations).
    pub fn uniform_duration(&self) -> Option<Micros> {
        match &self.durations {
            Durations::Fixed(d) => Some(*d),
            Durations::PerEvent(v) => match v.first() {
                Some(first) if v.iter().all(|d| d == first) => Some(*first),
                Some(_) => None,
                None => Some(Micros::ZERO),
            },
        }
    }

    /// True when the events carry their own durations (a `duration_us` column).
    pub fn has_per_event_durations(&self) -> bool {
        matches!(self.durations, Durations::PerEvent(_))
    }

    /// Event indexes in arrival order.
    pub fn indexes(&self) -> impl Iterator<Item = EventIdx> + '_ {
        (0..self.len as u32).map(EventIdx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_accounts_follow_first_arrival() {
        let mut w = Workload::new(Source::Live("test".into()), Micros(1_000));
        w.push(EventId(1), AccountId(42), None);
        w.push(EventId(2), AccountId(7), None);
        w.push(EventId(3), AccountId(42), None);
        assert_eq!(w.account_of(EventIdx(0)), AccountIdx(0));
        assert_eq!(w.account_of(EventIdx(1)), AccountIdx(1));
        assert_eq!(w.account_of(EventIdx(2)), AccountIdx(0));
        assert_eq!(w.account_id(AccountIdx(1)), AccountId(7));
        let s = w.shape();
        assert_eq!((s.events, s.accounts, s.longest_chain), (3, 2, 2));
        assert_eq!(s.total_work, Micros(3_000));
        assert_eq!(s.heaviest_account, Micros(2_000));
        assert_eq!(s.uniform, Some(Micros(1_000)));
    }

    #[test]
    fn the_kept_shape_is_forgotten_by_a_push_or_new_durations() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(2));
        w.push(EventId(1), AccountId(1), None);
        assert_eq!(w.shape().longest_chain, 1);
        w.push(EventId(2), AccountId(1), None);
        w.push(EventId(3), AccountId(9), None);
        assert_eq!(w.shape(), w.shape_of(|_| true));
        assert_eq!(w.shape().longest_chain, 2);
        assert_eq!(w.shape().total_work, Micros(6));
        w.replace_durations(Durations::PerEvent(vec![Micros(1), Micros(5), Micros(0)]));
        assert_eq!(w.shape(), w.shape_of(|_| true));
        let s = w.shape();
        assert_eq!((s.total_work, s.uniform), (Micros(6), None));
        assert_eq!(w.clone().shape(), s);
    }

    #[test]
    fn sequential_ids_are_implicit_until_one_breaks_the_run() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1));
        for id in [5, 6, 7] {
            w.push(EventId(id), AccountId(1), None);
        }
        assert!(w.event_ids.is_empty());
        w.push(EventId(100), AccountId(2), None);
        w.freeze();
        w.push(EventId(8), AccountId(2), None);
        let ids: Vec<u64> = w.indexes().map(|e| w.event_id(e).0).collect();
        assert_eq!(ids, vec![5, 6, 7, 100, 8]);
        assert_eq!(
            w.account_of(EventIdx(4)),
            AccountIdx(1),
            "lookup rebuilt after freeze"
        );
    }

    #[test]
    fn sparse_account_ids_fall_back_to_a_map() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1));
        let ids = [3, u64::MAX, 3, 1 << 40, 7, u64::MAX];
        // (ids beyond the dense table's reach)
        for (i, a) in ids.into_iter().enumerate() {
            w.push(EventId(i as u64), AccountId(a), None);
        }
        assert_eq!(
            w.lookup.overflow.len(),
            2,
            "u64::MAX and 2^40 are beyond any table"
        );
        let dense: Vec<u32> = w.indexes().map(|e| w.account_of(e).0).collect();
        assert_eq!(dense, vec![0, 1, 0, 2, 3, 1]);
        assert_eq!(w.account_count(), 4);
    }

    #[test]
    fn dense_account_ids_use_a_table() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1));
        for (i, a) in [5u64, 0, 5, 1000].into_iter().enumerate() {
            w.push(EventId(i as u64), AccountId(a), None);
        }
        assert!(w.lookup.overflow.is_empty());
        let dense: Vec<u32> = w.indexes().map(|e| w.account_of(e).0).collect();
        assert_eq!(dense, vec![0, 1, 0, 2]);
    }

    #[test]
    fn first_keeps_the_first_events_with_their_durations() {
        let mut w = Workload::with_durations(Source::Live("t".into()), Durations::PerEvent(vec![]));
        for (id, a, d) in [(7u64, 1u64, 5u64), (9, 2, 6), (8, 1, 7), (3, 3, 8)] {
            w.push(EventId(id), AccountId(a), Some(Micros(d)));
        }
        let two = w.first(3);
        let seen: Vec<(u64, u64, u64)> = two
            .indexes()
            .map(|e| {
                (
                    two.event_id(e).0,
                    two.account_id(two.account_of(e)).0,
                    two.duration(e).0,
                )
            })
            .collect();
        assert_eq!(seen, vec![(7, 1, 5), (9, 2, 6), (8, 1, 7)]);
        assert_eq!(two.account_count(), 2);
        assert_eq!(w.first(10).len(), 4);
    }

    #[test]
    fn dense_ids_seen_too_early_for_the_table_move_in_once_it_reaches_them() {
        let mut w = Workload::new(Source::Live("t".into()), Micros(1));
        let far = (AccountLookup::FLOOR + 100) as u64;
        // `far` is beyond what the table may hold with one account known; then enough
        // accounts arrive for the table to grow past it.
        w.push(EventId(0), AccountId(far), None);
        assert_eq!(w.lookup.overflow.len(), 1);
        for a in 1..=100u64 {
            w.push(EventId(a), AccountId(a * 1000), None);
        }
        w.push(EventId(1000), AccountId(far + 1), None);
        assert!(w.lookup.overflow.is_empty(), "moved into the table");
        w.push(EventId(1001), AccountId(far), None);
        assert_eq!(
            w.account_of(EventIdx(102)),
            AccountIdx(0),
            "still account 0"
        );
        assert_eq!(w.account_count(), 102);
    }

    #[test]
    fn per_event_durations_sum_per_account() {
        let mut w = Workload::with_durations(Source::Live("t".into()), Durations::PerEvent(vec![]));
        w.push(EventId(1), AccountId(1), Some(Micros(5)));
        w.push(EventId(2), AccountId(2), Some(Micros(7)));
        w.push(EventId(3), AccountId(1), Some(Micros(5)));
        let s = w.shape();
        assert_eq!(s.heaviest_account, Micros(10));
        assert_eq!(s.total_work, Micros(17));
        assert_eq!(s.uniform, None);
    }
}
