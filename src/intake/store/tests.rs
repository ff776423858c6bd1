//! Unit and property tests of the SQLite store: ids kept as ranges, batches, resume.

use super::*;
use proptest::prelude::*;

fn pending(seq: u64, event: u64, account: u64) -> Pending {
    Pending {
        seq,
        event: EventId(event),
        account: AccountId(account),
        duration: None,
        started: false,
    }
}

fn insert(store: &mut Store, event: u64, account: u64) -> u64 {
    let seq = store.next_seq();
    store
        .apply(&[Op::Insert(pending(seq, event, account))])
        .unwrap();
    seq
}

/// The accepted-id rows as stored (read through the store's own connection: it holds the
/// data dir's lock).
fn accepted_rows(store: &Store) -> Vec<(i64, i64)> {
    let mut q = store
        .conn
        .prepare("SELECT lo, hi FROM accepted ORDER BY lo")
        .unwrap();
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn unfinished_events_come_back_in_order_with_their_start_marks() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, rec) = Store::open(dir.path()).unwrap();
        assert!(rec.pending.is_empty());
        let a = insert(&mut s, 10, 1);
        let b = insert(&mut s, 11, 2);
        let c = insert(&mut s, 12, 1);
        let mut with_duration = pending(s.next_seq(), 13, 3);
        with_duration.duration = Some(Micros(250));
        s.apply(&[
            Op::Insert(with_duration),
            Op::Start(a),
            Op::Finish(a),
            Op::Start(b),
        ])
        .unwrap();
        assert_eq!(s.rows(), 3);
        let _ = c;
    }
    let (mut s, rec) = Store::open(dir.path()).unwrap();
    let got: Vec<(u64, u64, bool, Option<Micros>)> = rec
        .pending
        .iter()
        .map(|p| (p.event.0, p.account.0, p.started, p.duration))
        .collect();
    assert_eq!(
        got,
        vec![
            (11, 2, true, None),
            (12, 1, false, None),
            (13, 3, false, Some(Micros(250)))
        ]
    );
    for id in [10, 11, 12, 13] {
        assert!(s.accepted().contains(&id), "id {id} forgotten");
    }
    assert!(!s.accepted().contains(&14));
    // Sequence numbers go on after the last one, finished or not.
    assert!(s.next_seq() > rec.pending[2].seq);
}

#[test]
fn sequence_numbers_never_repeat_after_the_queue_drained() {
    let dir = tempfile::tempdir().unwrap();
    let last = {
        let (mut s, _) = Store::open(dir.path()).unwrap();
        let a = insert(&mut s, 1, 1);
        s.apply(&[Op::Finish(a)]).unwrap();
        a
    };
    let (mut s, rec) = Store::open(dir.path()).unwrap();
    assert!(rec.pending.is_empty());
    assert!(s.next_seq() > last);
}

#[test]
fn ids_in_sequence_are_kept_as_one_range() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Store::open(dir.path()).unwrap();
    let mut ops = Vec::new();
    for id in 1..=500 {
        ops.push(Op::Insert(pending(s.next_seq(), id, id % 7)));
    }
    s.apply(&ops).unwrap();
    for id in (501..=1000).rev() {
        insert(&mut s, id, 1);
    }
    insert(&mut s, 2000, 1);
    assert_eq!(accepted_rows(&s), vec![(1, 1000), (2000, 2000)]);
    // Filling the gap joins both ranges into one row.
    let mut ops = Vec::new();
    for id in 1001..2000 {
        ops.push(Op::Insert(pending(s.next_seq(), id, 1)));
    }
    s.apply(&ops).unwrap();
    assert_eq!(accepted_rows(&s), vec![(1, 2000)]);
}

#[test]
fn ids_above_i64_max_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = Store::open(dir.path()).unwrap();
        insert(&mut s, u64::MAX, u64::MAX - 1);
        insert(&mut s, u64::MAX - 1, 0);
    }
    let (s, rec) = Store::open(dir.path()).unwrap();
    assert_eq!(rec.pending[0].event, EventId(u64::MAX));
    assert_eq!(rec.pending[0].account, AccountId(u64::MAX - 1));
    assert!(s.accepted().contains(&u64::MAX) && s.accepted().contains(&(u64::MAX - 1)));
}

#[test]
fn a_full_disk_fails_the_whole_batch_and_keeps_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Store::open(dir.path()).unwrap();
    insert(&mut s, 1, 1);
    s.limit_pages(8);
    let mut ops = Vec::new();
    for id in 100..5100 {
        ops.push(Op::Insert(pending(s.next_seq(), id * 3, id)));
    }
    let err = s.apply(&ops).unwrap_err().to_string();
    assert!(err.contains("full"), "{err}");
    assert!(!s.accepted().contains(&300), "a failed id stays refused");
    assert_eq!(s.rows(), 1);
    drop(s);
    let (_, rec) = Store::open(dir.path()).unwrap();
    assert_eq!(rec.pending.len(), 1);
}

#[test]
fn drained_store_stays_small_after_a_large_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = Store::open(dir.path()).unwrap();
    let mut seqs = Vec::new();
    for chunk in 0..20u64 {
        let ops: Vec<Op> = (0..5000)
            .map(|i| {
                let seq = s.next_seq();
                seqs.push(seq);
                Op::Insert(pending(seq, chunk * 5000 + i, i % 100))
            })
            .collect();
        s.apply(&ops).unwrap();
    }
    let big = Store::disk_bytes(dir.path());
    let finishes: Vec<Op> = seqs.iter().map(|&q| Op::Finish(q)).collect();
    s.apply(&finishes).unwrap();
    assert_eq!(s.rows(), 0);
    s.compact().unwrap();
    let small = Store::disk_bytes(dir.path());
    assert!(big > 2_000_000, "backlog took {big} bytes");
    assert!(small < 200_000, "drained store still takes {small} bytes");
}

#[test]
fn an_unwritable_dir_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file.join("data")).err().unwrap().to_string();
    assert!(err.contains("not-a-dir"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the order ids arrive in, the ranges on disk are exactly the ids accepted.
    #[test]
    fn stored_ranges_are_exactly_the_accepted_ids(
        ids in proptest::collection::hash_set(0u64..300, 1..120),
        batch in 1usize..20,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<u64> = ids.into_iter().collect();
        {
            let (mut s, _) = Store::open(dir.path()).unwrap();
            for chunk in ids.chunks(batch) {
                let ops: Vec<Op> = chunk
                    .iter()
                    .map(|&id| Op::Insert(pending(s.next_seq(), id, 1)))
                    .collect();
                s.apply(&ops).unwrap();
            }
        }
        let (s, rec) = Store::open(dir.path()).unwrap();
        prop_assert_eq!(rec.pending.len(), ids.len());
        for id in 0..300u64 {
            prop_assert_eq!(s.accepted().contains(&id), ids.contains(&id), "id {}", id);
        }
        let rows = accepted_rows(&s);
        for w in rows.windows(2) {
            prop_assert!(w[0].1 + 1 < w[1].0, "ranges {:?} should have been merged", w);
        }
    }
}

#[test]
fn a_second_store_on_the_same_dir_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().unwrap().to_string();
    assert!(err.contains("in use by another process"), "{err}");
    drop(first);
    assert!(
        Store::open(dir.path()).is_ok(),
        "the lock ends with the first store"
    );
}

#[test]
fn an_id_accepted_for_the_broker_is_kept_without_a_queue_row() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut s, _) = Store::open(dir.path()).unwrap();
        s.apply(&[Op::Accept(EventId(7)), Op::Accept(EventId(8))])
            .unwrap();
        assert_eq!(s.rows(), 0);
        assert_eq!(accepted_rows(&s), [(7, 8)]);
    }
    let (s, rec) = Store::open(dir.path()).unwrap();
    assert!(
        rec.pending.is_empty(),
        "nothing to process: the broker has them"
    );
    assert!(s.accepted().contains(&7) && s.accepted().contains(&8));
}
