//! The book's window, its handling of redeliveries and lost connections, and handovers.

use super::*;

fn slot(message: u32) -> Slot {
    Slot {
        message: u64::from(message),
        started: false,
        skipped: false,
        redelivered: false,
        arrived: Micros::ZERO,
        done: None,
    }
}

#[test]
fn the_window_finds_settles_and_drains_events_in_any_order() {
    let mut w = Window::default();
    for i in [10, 11, 12, 14] {
        w.insert(EventIdx(i), slot(i));
    }
    assert!(w.get_mut(EventIdx(13)).is_none(), "a gap is not an event");
    assert!(w.get_mut(EventIdx(9)).is_none() && w.get_mut(EventIdx(15)).is_none());
    assert_eq!(w.remove(EventIdx(11)).map(|s| s.message), Some(11));
    assert!(w.remove(EventIdx(11)).is_none(), "settled once");
    assert_eq!(w.remove(EventIdx(10)).map(|s| s.message), Some(10));
    assert_eq!(w.base, 12, "the settled front is dropped");
    w.get_mut(EventIdx(12)).unwrap().started = true;
    w.insert(EventIdx(8), slot(8));
    let left: Vec<(u32, bool)> = w.drain().map(|(i, s)| (i.0, s.started)).collect();
    assert_eq!(left, [(8, false), (12, true), (14, false)]);
    assert!(w.remove(EventIdx(12)).is_none());
    w.insert(EventIdx(100), slot(100));
    assert_eq!(w.remove(EventIdx(100)).map(|s| s.message), Some(100));
}

proptest::proptest! {
    /// Against a map: events booked in rising index order (with gaps, as when another
    /// submitter took indexes) and settled in any order are found exactly while pending.
    #[test]
    fn the_window_behaves_like_a_map(
        steps in proptest::collection::vec((0u32..3, proptest::bool::ANY, 0usize..64), 1..200),
    ) {
        let mut w = Window::default();
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut next = 0u32;
        for (gap, settle, pick) in steps {
            if settle && !model.is_empty() {
                let mut keys: Vec<u32> = model.keys().copied().collect();
                keys.sort_unstable();
                let k = keys[pick % keys.len()];
                let got = w.remove(EventIdx(k)).map(|s| s.message);
                proptest::prop_assert_eq!(got, model.remove(&k));
            } else {
                next += gap;
                w.insert(EventIdx(next), slot(next));
                model.insert(next, u64::from(next));
                next += 1;
            }
            for k in 0..next + 2 {
                let found = w.get_mut(EventIdx(k)).map(|s| s.message);
                proptest::prop_assert_eq!(found, model.get(&k).copied());
            }
        }
        let mut left: Vec<u32> = w.drain().map(|(i, _)| i.0).collect();
        let mut expected: Vec<u32> = model.into_keys().collect();
        expected.sort_unstable();
        left.sort_unstable();
        proptest::prop_assert_eq!(left, expected);
    }
}

#[test]
fn an_event_that_finished_here_is_passed_over_when_it_comes_again() {
    let finished = Finished::default();
    let mut book = Book::default();
    let key = book.open(0, 0, 1, Acker::default(), vec![7, 8]).unwrap();
    book.book(EventIdx(0), (key, false), Micros(1), None);
    book.book(EventIdx(1), (key, false), Micros(1), None);
    assert!(
        !book.start(EventIdx(0), 7, &finished),
        "first delivery runs"
    );
    assert_eq!(book.settle(EventIdx(0)).0, Settled::Ran(Micros(1)));
    finished.insert(7);
    // The connection drops: 8 had not started, so it is given up.
    book.abandon(1);
    assert!(book.start(EventIdx(1), 8, &finished));
    assert_eq!(book.settle(EventIdx(1)).0, Settled::PassedOver(None));
    // The redelivered message: 7 already ran here, 8 runs now; then it is acked whole.
    let again = book.open(1, 0, 1, Acker::default(), vec![7, 8]).unwrap();
    book.book(EventIdx(2), (again, true), Micros(9), None);
    book.book(EventIdx(3), (again, true), Micros(9), None);
    assert!(book.start(EventIdx(2), 7, &finished));
    assert!(!book.start(EventIdx(3), 8, &finished));
    assert_eq!(
        book.settle(EventIdx(2)).0,
        Settled::PassedOver(Some(Micros(9)))
    );
    let (ran, message) = book.settle(EventIdx(3));
    assert_eq!(ran, Settled::Ran(Micros(9)));
    assert_eq!(message.map(|m| m.ids), Some(vec![7, 8]));
    assert_eq!(book.stats.skipped_finished, 1);
    assert_eq!(book.skipped.len(), 1);
}

/// The failover bug of issue 25: a consumer of the lost connection still held buffered
/// deliveries and booked them after the loss, so they ran while the earlier events of
/// their accounts, given up unstarted, came back from the broker only later.
#[test]
fn deliveries_of_a_lost_connection_are_refused() {
    let finished = Finished::default();
    let mut book = Book::default();
    let first = book.open(0, 0, 1, Acker::default(), vec![1]).unwrap();
    book.book(EventIdx(0), (first, false), Micros(0), None);
    book.abandon(1);
    assert!(book.start(EventIdx(0), 1, &finished), "given up unstarted");
    assert!(!book.is_live(0));
    assert!(
        book.open(0, 0, 2, Acker::default(), vec![2]).is_none(),
        "a later delivery of the lost connection does not run"
    );
    assert!(book.is_live(1));
    assert!(book.open(1, 0, 1, Acker::default(), vec![1]).is_some());
    assert_eq!(book.stats.messages, 2);
}

/// A quorum queue's leader that dies may lose acks it had confirmed: the new leader
/// delivers those messages again, flagged redelivered, after [`Finished`] forgot them.
#[test]
fn a_redelivered_event_that_ran_here_is_passed_over_after_its_ack() {
    let finished = Finished::default();
    let mut book = Book::default();
    let key = book.open(0, 0, 1, Acker::default(), vec![5]).unwrap();
    book.book(EventIdx(0), (key, false), Micros(0), None);
    assert!(!book.note_delivery(5));
    assert!(!book.start(EventIdx(0), 5, &finished));
    book.ran(5);
    assert!(
        book.settle(EventIdx(0)).1.is_some(),
        "acked; Finished forgot it"
    );
    let again = book.open(0, 0, 2, Acker::default(), vec![5]).unwrap();
    book.book(EventIdx(1), (again, true), Micros(0), None);
    assert!(book.note_delivery(5), "a repeat");
    assert!(
        book.start(EventIdx(1), 5, &finished),
        "redelivered: passed over"
    );
    // Published again (not a redelivery): it runs, and the engine counts a duplicate.
    let published = book.open(0, 0, 3, Acker::default(), vec![5]).unwrap();
    book.book(EventIdx(2), (published, false), Micros(0), None);
    assert!(!book.start(EventIdx(2), 5, &finished));
}

#[test]
fn a_handover_gives_back_the_messages_nothing_of_which_started() {
    let finished = Finished::default();
    let mut book = Book::default();
    // Queue 3: message 1 (events 0, 1) has a started event, message 2 (event 2) not;
    // queue 4's message 3 (event 3) is not handed over.
    let m1 = book.open(0, 3, 1, Acker::default(), vec![10, 11]).unwrap();
    let m2 = book.open(0, 3, 2, Acker::default(), vec![12]).unwrap();
    let m3 = book.open(0, 4, 1, Acker::default(), vec![13]).unwrap();
    for (i, m) in [m1, m1, m2, m3].into_iter().enumerate() {
        book.book(EventIdx(i as u32), (m, false), Micros(0), None);
    }
    assert!(!book.start(EventIdx(0), 10, &finished));
    let back: Vec<u64> = book.give_back(0, 3).into_iter().map(|(t, _)| t).collect();
    assert_eq!(back, [2], "only the message nothing of which started");
    assert!(
        book.start(EventIdx(2), 12, &finished),
        "its event is skipped"
    );
    assert!(
        !book.start(EventIdx(1), 11, &finished),
        "the started message finishes"
    );
    assert_eq!((book.pending_in(0, 3), book.pending_in(0, 4)), (1, 1));
    assert_eq!(book.stats.abandoned, 1);
}
