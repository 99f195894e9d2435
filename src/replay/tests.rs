//! Native tests of the replay engine over the memory store.

use crate::test_util::{block_on, sid};
use std::cell::Cell;

use proptest::prelude::*;

use super::*;
use crate::event::{AppendResult, EventType, ExpectedVersion, NewEvent};
use crate::store::{MemoryStore, Metrics, StreamInfo};




fn ev(t: &str, n: i64) -> NewEvent<i64> {
    NewEvent::new(EventType::new(t).unwrap(), n)
}

fn sum() -> Fold<i64, impl FnMut(&mut i64, &Event<i64>) + Clone> {
    Fold::new(0i64, |s: &mut i64, e: &Event<i64>| *s += e.data)
}

/// 1..=n as events, alternating between streams "a" and "b", appended one by one.
fn store_with(n: i64) -> MemoryStore<i64> {
    let store = MemoryStore::new();
    for i in 1..=n {
        let s = if i % 2 == 1 { sid("a") } else { sid("b") };
        block_on(store.append(&s, ExpectedVersion::Any, vec![ev("Added", i)])).unwrap();
    }
    store
}

#[test]
fn sums_over_a_thousand_events_in_pages() {
    let store = MemoryStore::new();
    let s = sid("counter");
    for chunk in 0..10 {
        let batch = (1..=100).map(|i| ev("Added", chunk * 100 + i)).collect();
        block_on(store.append(&s, ExpectedVersion::Any, batch)).unwrap();
    }
    let mut total = sum();
    let options = ReplayOptions { page_size: 128, ..Default::default() };
    let report = block_on(replay(&store, Some(&s), &mut total, None, &options)).unwrap();
    assert_eq!(total.state, 500_500);
    assert_eq!(report.events, 1000);
    assert_eq!(report.pages, 8, "7 full pages of 128 and one of 104: no extra read");
    assert_eq!(report.last_version, Some(Version(1000)));
}

#[test]
fn time_travel_by_version_and_position() {
    let store = store_with(10); // a: 1,3,5,7,9 (positions 1,3,..); b: 2,4,..
    let a = sid("a");
    let run = |stream: Option<&StreamId>, options: ReplayOptions| {
        let mut total = sum();
        let report = block_on(replay(&store, stream, &mut total, None, &options)).unwrap();
        (total.state, report.events)
    };
    let o = |f: fn(&mut ReplayOptions)| {
        let mut options = ReplayOptions { page_size: 2, ..Default::default() };
        f(&mut options);
        options
    };
    assert_eq!(run(Some(&a), o(|o| o.to_version = Some(Version(3)))), (1 + 3 + 5, 3));
    assert_eq!(run(Some(&a), o(|o| o.from_version = Some(Version(4)))), (7 + 9, 2));
    assert_eq!(run(Some(&a), o(|o| o.to_position = Some(Position(6)))), (1 + 3 + 5, 3));
    assert_eq!(run(None, o(|o| o.to_position = Some(Position(4)))), (10, 4));
    assert_eq!(run(None, o(|o| o.from_position = Some(Position(9)))), (19, 2));
    assert_eq!(run(None, o(|o| o.to_position = Some(Position(0)))), (0, 0));
    assert_eq!(run(Some(&sid("nothing")), ReplayOptions::default()), (0, 0));
    let mut total = sum();
    let wrong = ReplayOptions { to_version: Some(Version(1)), ..Default::default() };
    let err = block_on(replay(&store, None, &mut total, None, &wrong)).unwrap_err();
    assert_eq!(err.js_name(), "InvalidInputError");
}

/// Refuses events whose data is negative.
#[derive(Clone, Default)]
struct Picky(i64);

impl Projection<i64> for Picky {
    fn apply(&mut self, event: &Event<i64>) {
        self.0 += event.data;
    }
    fn try_apply(&mut self, event: &Event<i64>) -> std::result::Result<(), String> {
        if event.data < 0 {
            return Err(format!("negative amount {}", event.data));
        }
        self.apply(event);
        Ok(())
    }
}

#[test]
fn a_failing_event_stops_or_is_skipped_and_reported() {
    let store = MemoryStore::new();
    let s = sid("s");
    let bad = ev("Added", -5).with_id(EventId::new("bad-1").unwrap());
    block_on(store.append(&s, ExpectedVersion::Any, vec![ev("Added", 1), bad, ev("Added", 2)])).unwrap();
    let mut p = Picky::default();
    let err = block_on(replay(&store, Some(&s), &mut p, None, &ReplayOptions::default())).unwrap_err();
    match err {
        Error::Replay { position, event_id, stream, version, event_type, message } => {
            assert_eq!((position, version), (Position(2), Version(2)));
            assert_eq!((event_id.as_str(), stream.as_str(), event_type.as_str()), ("bad-1", "s", "Added"));
            assert_eq!(message, "negative amount -5");
        }
        other => panic!("expected a replay error, got {other}"),
    }
    assert_eq!(p.0, 1, "stopped at the failing event");

    let mut p = Picky::default();
    let skip = ReplayOptions { on_error: OnError::Skip, ..Default::default() };
    let report = block_on(replay(&store, Some(&s), &mut p, None, &skip)).unwrap();
    assert_eq!((p.0, report.events), (3, 2));
    assert_eq!(report.skipped, vec![EventId::new("bad-1").unwrap()]);
}

#[test]
fn upcaster_chain_raises_old_schemas_and_leaves_the_store_alone() {
    let store = MemoryStore::<i64>::new();
    let s = sid("s");
    let mut v1 = ev("Price", 7);
    v1.schema = 1;
    let mut v2 = ev("Price", 70);
    v2.schema = 2;
    let mut v3 = ev("Price", 700);
    v3.schema = 3;
    block_on(store.append(&s, ExpectedVersion::Any, vec![v1, v2, v3, ev("Other", 1)])).unwrap();
    let mut up = Upcasters::new();
    let price = EventType::new("Price").unwrap();
    up.register(&price, 1, |d, _| Ok(d * 10)).unwrap(); // units -> tens
    up.register(&price, 2, |d, e| if e.schema == 2 { Ok(d * 10) } else { Err("wrong schema".into()) }).unwrap();
    assert!(up.register(&price, 2, |d, _| Ok(d)).is_err(), "a step registers once");
    assert!(up.register(&price, 0, |d, _| Ok(d)).is_err());
    assert_eq!(up.latest_schema(&price, 1), 3);

    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    let mut p = Fold::new((), move |_: &mut (), e: &Event<i64>| log.borrow_mut().push((e.data, e.schema)));
    block_on(replay(&store, Some(&s), &mut p, Some(&up), &ReplayOptions::default())).unwrap();
    assert_eq!(*seen.borrow(), vec![(700, 3), (700, 3), (700, 3), (1, 1)]);
    let stored = block_on(store.read(&s, Default::default())).unwrap();
    assert_eq!(stored.iter().map(|e| (e.data, e.schema)).collect::<Vec<_>>(), [(7, 1), (70, 2), (700, 3), (1, 1)]);

    // A failing step is a replay error naming the step.
    let mut failing = Upcasters::new();
    failing.register(&price, 1, |_, _| Err("no".into())).unwrap();
    let err = block_on(replay(&store, Some(&s), &mut sum(), Some(&failing), &ReplayOptions::default())).unwrap_err();
    assert!(err.to_string().contains("upcaster Price schema 1 -> 2 failed: no"), "{err}");
}

#[test]
fn projection_resumes_from_its_snapshot_and_reads_only_the_tail() {
    let store = store_with(1000);
    let policy = SnapshotPolicy { every: 300 };
    let mut saved = Vec::new();
    let mut runner = ProjectionRunner::resume(1, sum(), None, policy);
    runner.page_size = 100;
    let report = block_on(runner.catch_up(&store, None, |s| saved.push(s))).unwrap();
    assert_eq!((runner.state.state, report.events), (500_500, 1000));
    assert_eq!(saved.iter().map(|s| s.position.0).collect::<Vec<_>>(), [300, 600, 900]);

    // "Reload": a new runner from the last snapshot replays only the 100-event tail.
    let last = saved.last().cloned();
    let mut resumed = ProjectionRunner::resume(1, sum(), last.clone(), policy);
    let report = block_on(resumed.catch_up(&store, None, |_| {})).unwrap();
    assert_eq!((resumed.state.state, report.events), (500_500, 100));

    // A new version ignores the old snapshot and rebuilds from the start.
    let mut bumped = ProjectionRunner::resume(2, sum(), last, policy);
    let report = block_on(bumped.catch_up(&store, None, |_| {})).unwrap();
    assert_eq!((bumped.state.state, report.events), (500_500, 1000));

    // Only some streams.
    let mut only_a = ProjectionRunner::resume(1, sum(), None, policy);
    only_a.streams = Some([sid("a")].into_iter().collect());
    block_on(only_a.catch_up(&store, None, |_| {})).unwrap();
    assert_eq!(only_a.state.state, (1..=1000).filter(|i| i % 2 == 1).sum::<i64>());
    assert_eq!(only_a.position, Position(1000));
}

/// A store where another writer appends to the stream right before the first `n`
/// appends: a deterministic conflict.
struct Contended {
    inner: MemoryStore<i64>,
    conflicts_left: Cell<u32>,
}

impl EventStore for Contended {
    type Payload = i64;
    async fn append(&self, stream: &StreamId, expected: ExpectedVersion, events: Vec<NewEvent<i64>>) -> Result<AppendResult> {
        if self.conflicts_left.get() > 0 {
            self.conflicts_left.set(self.conflicts_left.get() - 1);
            self.inner.append(stream, ExpectedVersion::Any, vec![ev("Deposited", 1)]).await?;
        }
        self.inner.append(stream, expected, events).await
    }
    async fn read(&self, stream: &StreamId, options: crate::store::ReadOptions) -> Result<Vec<Event<i64>>> {
        self.inner.read(stream, options).await
    }
    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<i64>>> {
        self.inner.read_all(from, limit).await
    }
    async fn version(&self, stream: &StreamId) -> Result<Version> {
        self.inner.version(stream).await
    }
    async fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.inner.streams().await
    }
    fn metrics(&self) -> Metrics {
        self.inner.metrics()
    }
    fn close(&self) {
        self.inner.close()
    }
}

#[test]
fn decide_evolve_retries_a_conflict_then_gives_up_when_bounded() {
    let store = Contended { inner: MemoryStore::new(), conflicts_left: Cell::new(1) };
    let s = sid("account");
    block_on(store.inner.append(&s, ExpectedVersion::NoStream, vec![ev("Deposited", 10)])).unwrap();
    let decisions = Cell::new(0);
    let withdraw = |amount: &i64, state: &Fold<i64, _>| {
        decisions.set(decisions.get() + 1);
        if state.state < *amount {
            return Err(Error::invalid("amount", "insufficient funds"));
        }
        Ok(vec![ev("Withdrawn", -amount)])
    };
    let outcome = block_on(execute(&store, &s, &sum(), &5, withdraw, 3)).unwrap();
    assert_eq!(outcome.attempts, 2, "one conflict, one retry");
    assert_eq!(outcome.state.state, 11, "the retry saw the other writer's deposit");
    assert_eq!(outcome.version, Version(2));
    assert_eq!(outcome.appended.map(|r| r.last_version), Some(Version(3)));
    assert_eq!(decisions.get(), 2);

    // Always contended, at most 2 attempts: the conflict comes back.
    store.conflicts_left.set(10);
    let Err(err) = block_on(execute(&store, &s, &sum(), &1, withdraw, 2)) else {
        panic!("expected a conflict");
    };
    assert_eq!(err.js_name(), "VersionConflictError");
    // Nothing to do: no append.
    let nothing = block_on(execute(&store, &s, &sum(), &0, |_: &i64, _: &Fold<i64, _>| Ok(vec![]), 1)).unwrap();
    assert!(nothing.appended.is_none());
}

#[test]
fn cursor_plans_exact_pages() {
    let options = ReplayOptions { to_position: Some(Position(5)), page_size: 2, ..Default::default() };
    let mut c = ReplayCursor::new(None, &options).unwrap();
    let mut reads = Vec::new();
    while let Some(PageRead::All { from, limit }) = c.next_read() {
        reads.push((from.0, limit));
        c.advance(limit, Some(from.0 + limit as u64 - 1), false);
    }
    assert_eq!(reads, [(1, 2), (3, 2), (5, 1)]);
    let zero = ReplayOptions { page_size: 0, ..Default::default() };
    assert!(ReplayCursor::new(None, &zero).is_err());
    let mixed = ReplayOptions { from_position: Some(Position(1)), ..Default::default() };
    assert!(ReplayCursor::new(Some(sid("s")), &mixed).is_err());
}

proptest! {
    /// Replaying in pages of any size gives the state of one fold over the whole log,
    /// for any bound.
    #[test]
    fn pages_of_any_size_fold_like_one(
        n in 0i64..120,
        page in 1usize..40,
        to in proptest::option::of(0u64..130),
        stream in any::<bool>(),
    ) {
        let store = store_with(n);
        let scope = stream.then(|| sid("a"));
        let expected: i64 = (1..=n)
            .filter(|i| !stream || i % 2 == 1)
            .filter(|i| to.is_none_or(|t| *i as u64 <= t))
            .sum();
        let options = ReplayOptions { page_size: page, to_position: to.map(Position), ..Default::default() };
        let mut total = sum();
        let report = block_on(replay(&store, scope.as_ref(), &mut total, None, &options)).unwrap();
        prop_assert_eq!(total.state, expected);
        let one = ReplayOptions { page_size: usize::MAX, ..options };
        let mut once = sum();
        block_on(replay(&store, scope.as_ref(), &mut once, None, &one)).unwrap();
        prop_assert_eq!(once.state, total.state);
        prop_assert!(report.pages <= report.events / page as u64 + 1);
    }

    /// A snapshot at any point plus the tail equals a full replay.
    #[test]
    fn snapshot_plus_tail_is_a_full_replay(n in 0i64..150, every in 1u64..60, page in 1usize..50, more in 0i64..40) {
        let store = store_with(n);
        let policy = SnapshotPolicy { every };
        let mut first = ProjectionRunner::resume(1, sum(), None, policy);
        first.page_size = page;
        let mut last = None;
        block_on(first.catch_up(&store, None, |s| last = Some(s))).unwrap();
        for i in 1..=more {
            block_on(store.append(&sid("c"), ExpectedVersion::Any, vec![ev("Added", 1000 + i)])).unwrap();
        }
        let mut resumed = ProjectionRunner::resume(1, sum(), last, policy);
        resumed.page_size = page;
        block_on(resumed.catch_up(&store, None, |_| {})).unwrap();
        let mut full = sum();
        block_on(replay(&store, None, &mut full, None, &ReplayOptions::default())).unwrap();
        prop_assert_eq!(resumed.state.state, full.state);
        prop_assert_eq!(resumed.position.0, (n + more) as u64);
    }
}
