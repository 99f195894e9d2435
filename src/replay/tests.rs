//! Native tests of the replay plans, driven the way the bindings drive them, over the
//! memory store; the fold they drive is summed here (the shipped fold is `js/fold.js`,
//! tested by `js/fold.test.mjs`, `tests/browser_replay.rs` and `tests/js/replay.test.mjs`).

use proptest::prelude::*;

use super::*;
use crate::error::Result;
use crate::event::{EventId, EventType, ExpectedVersion, NewEvent, StreamId};
use crate::store::{EventStore, MemoryStore};
use crate::test_util::{block_on, sid};

fn ev(t: &str, n: i64) -> NewEvent<i64> {
    NewEvent::new(EventType::new(t).unwrap(), n)
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

/// What a replay did (the fold sums `data`).
#[derive(Debug, Default, PartialEq)]
struct Run {
    sum: i64,
    applied: u64,
    pages: u64,
    last_version: Option<Version>,
    last_position: Option<Position>,
}

/// One replay as the bindings run it (`run_fold` in src/bindings/replay.rs, `foldPage` in
/// js/fold.js): read each planned page, consume its events up to `to_position` (cutting
/// the page there), fold them, then advance.
fn replay(
    store: &MemoryStore<i64>,
    stream: Option<&StreamId>,
    options: &ReplayOptions,
) -> Result<Run> {
    let mut cursor = ReplayCursor::new(stream.cloned(), options)?;
    let to_position = cursor.to_position();
    let mut run = Run::default();
    while let Some(read) = cursor.next_read() {
        let page = block_on(async {
            match read {
                PageRead::Stream { stream, options } => store.read(&stream, options).await,
                PageRead::All { from, limit } => store.read_all(from, limit).await,
            }
        })?;
        run.pages += 1;
        let consumed: Vec<_> =
            page.iter().take_while(|e| to_position.is_none_or(|to| e.position <= to)).collect();
        run.sum += consumed.iter().map(|e| e.data).sum::<i64>();
        run.applied += consumed.len() as u64;
        let last = consumed.last();
        run.last_version = last.map(|e| e.version).or(run.last_version);
        run.last_position = last.map(|e| e.position).or(run.last_position);
        let key = last.map(|e| if stream.is_some() { e.version.0 } else { e.position.0 });
        cursor.advance(page.len(), key, consumed.len() < page.len());
    }
    Ok(run)
}

fn paged(page_size: usize) -> ReplayOptions {
    ReplayOptions { page_size, ..Default::default() }
}

#[test]
fn sums_over_a_thousand_events_in_pages_without_an_extra_read() {
    let store = MemoryStore::new();
    let s = sid("counter");
    for chunk in 0..10 {
        let batch = (1..=100).map(|i| ev("Added", chunk * 100 + i)).collect();
        block_on(store.append(&s, ExpectedVersion::Any, batch)).unwrap();
    }
    let run = replay(&store, Some(&s), &paged(128)).unwrap();
    assert_eq!((run.sum, run.applied), (500_500, 1000));
    assert_eq!(run.pages, 8, "7 full pages of 128 and one of 104: no extra read");
    assert_eq!(run.last_version, Some(Version(1000)));
    let exact = replay(&store, Some(&s), &paged(100)).unwrap();
    assert_eq!(exact.pages, 11, "10 full pages, then one empty read finds the end");
}

#[test]
fn time_travel_by_version_and_position() {
    let store = store_with(10); // a: 1,3,5,7,9 (positions 1,3,..); b: 2,4,..
    let a = sid("a");
    let run = |stream: Option<&StreamId>, f: fn(&mut ReplayOptions)| {
        let mut options = paged(2);
        f(&mut options);
        let run = replay(&store, stream, &options).unwrap();
        (run.sum, run.applied)
    };
    assert_eq!(run(Some(&a), |o| o.to_version = Some(Version(3))), (1 + 3 + 5, 3));
    assert_eq!(run(Some(&a), |o| o.from_version = Some(Version(4))), (7 + 9, 2));
    assert_eq!(run(Some(&a), |o| o.to_position = Some(Position(6))), (1 + 3 + 5, 3));
    assert_eq!(run(None, |o| o.to_position = Some(Position(4))), (10, 4));
    assert_eq!(run(None, |o| o.from_position = Some(Position(9))), (19, 2));
    assert_eq!(run(None, |o| o.to_position = Some(Position(0))), (0, 0));
    assert_eq!(run(None, |o| o.from_position = Some(Position(11))), (0, 0));
    assert_eq!(run(Some(&sid("nothing")), |_| {}), (0, 0));
}

#[test]
fn bounds_that_do_not_fit_the_scope_are_invalid_input() {
    let refused = |stream: Option<StreamId>, options: ReplayOptions| {
        let err = ReplayCursor::new(stream, &options).unwrap_err();
        assert_eq!(err.js_name(), "InvalidInputError");
        match err {
            Error::InvalidInput { field, .. } => field,
            other => panic!("expected invalid input, got {other}"),
        }
    };
    let o = ReplayOptions::default;
    assert_eq!(refused(None, ReplayOptions { to_version: Some(Version(1)), ..o() }), "toVersion");
    assert_eq!(
        refused(None, ReplayOptions { from_version: Some(Version(1)), ..o() }),
        "fromVersion"
    );
    let from_position = ReplayOptions { from_position: Some(Position(1)), ..o() };
    assert_eq!(refused(Some(sid("s")), from_position), "fromPosition");
    assert_eq!(refused(None, paged(0)), "pageSize");
}

#[test]
fn cursor_plans_exact_pages() {
    let options =
        ReplayOptions { to_position: Some(Position(5)), page_size: 2, ..Default::default() };
    let mut c = ReplayCursor::new(None, &options).unwrap();
    let mut reads = Vec::new();
    while let Some(PageRead::All { from, limit }) = c.next_read() {
        reads.push((from.0, limit));
        c.advance(limit, Some(from.0 + limit as u64 - 1), false);
    }
    assert_eq!(reads, [(1, 2), (3, 2), (5, 1)]);

    // A stream replay reads by version, and a page cut at `to_position` ends it.
    let options =
        ReplayOptions { to_version: Some(Version(3)), page_size: 10, ..Default::default() };
    let c = ReplayCursor::new(Some(sid("s")), &options).unwrap();
    let Some(PageRead::Stream { options: read, .. }) = c.next_read() else {
        panic!("a stream read")
    };
    assert_eq!((read.from_version, read.limit), (Some(Version(1)), 3));
    let mut cut = ReplayCursor::new(Some(sid("s")), &paged(2)).unwrap();
    cut.advance(2, Some(2), true);
    assert_eq!(cut.next_read(), None);
}

#[test]
fn the_replay_error_names_the_failing_event() {
    let store = MemoryStore::new();
    let s = sid("s");
    let bad = ev("Boom", -5).with_id(EventId::new("bad-1").unwrap());
    block_on(store.append(&s, ExpectedVersion::Any, vec![ev("Added", 1), bad])).unwrap();
    let events = block_on(store.read(&s, Default::default())).unwrap();
    let err = Error::replay_failed(&events[1], "RangeError: negative amount");
    assert_eq!((err.js_name(), err.code()), ("ReplayError", "replay_failed"));
    match err {
        Error::Replay { position, event_id, stream, version, event_type, message } => {
            assert_eq!((position, version), (Position(2), Version(2)));
            assert_eq!(
                (event_id.as_str(), stream.as_str(), event_type.as_str()),
                ("bad-1", "s", "Boom")
            );
            assert_eq!(message, "RangeError: negative amount");
        }
        other => panic!("expected a replay error, got {other}"),
    }
}

/// A projection catching up as the bindings' `Projection` does: pages of `page` events
/// from the position after `after`, a snapshot whenever the schedule says so. Returns the
/// state, the new `after`, the events applied and the snapshots `(state, position)`.
fn catch_up(
    store: &MemoryStore<i64>,
    (state, after): (i64, u64),
    schedule: &mut SnapshotSchedule,
    page: usize,
    only: Option<&StreamId>,
) -> (i64, u64, u64, Vec<(i64, u64)>) {
    let options = ReplayOptions { from_position: Some(Position(after + 1)), ..paged(page) };
    let mut cursor = ReplayCursor::new(None, &options).unwrap();
    let (mut state, mut after, mut applied, mut snapshots) = (state, after, 0, Vec::new());
    while let Some(PageRead::All { from, limit }) = cursor.next_read() {
        let events = block_on(store.read_all(from, limit)).unwrap();
        let mut n = 0;
        for e in &events {
            if only.is_none_or(|s| *s == e.stream) {
                state += e.data;
                n += 1;
            }
            after = e.position.0;
        }
        applied += n;
        if n > 0 && schedule.applied(n) {
            snapshots.push((state, after));
            schedule.saved();
        }
        cursor.advance(events.len(), events.last().map(|e| e.position.0), false);
    }
    (state, after, applied, snapshots)
}

#[test]
fn snapshots_land_at_page_boundaries_and_a_reload_reads_only_the_tail() {
    let store = store_with(1000);
    let mut schedule = SnapshotSchedule::new(SnapshotPolicy { every: 300 });
    let (state, after, applied, snapshots) = catch_up(&store, (0, 0), &mut schedule, 100, None);
    assert_eq!((state, after, applied), (500_500, 1000, 1000));
    assert_eq!(snapshots.iter().map(|s| s.1).collect::<Vec<_>>(), [300, 600, 900]);
    assert_eq!(schedule.unsaved(), 100);
    assert!(schedule.final_due(), "a rebuild stores its last 100 events too");

    // "Reload": from the last snapshot, only the 100-event tail is read and applied.
    let mut reloaded = SnapshotSchedule::new(SnapshotPolicy { every: 300 });
    let (state, _, applied, _) = catch_up(&store, snapshots[2], &mut reloaded, 100, None);
    assert_eq!((state, applied), (500_500, 100));

    // Only some streams: the others are covered, not applied.
    let mut only = SnapshotSchedule::new(SnapshotPolicy { every: 0 });
    let (state, after, _, snapshots) = catch_up(&store, (0, 0), &mut only, 64, Some(&sid("a")));
    assert_eq!(state, (1..=1000).filter(|i| i % 2 == 1).sum::<i64>());
    assert_eq!(after, 1000);
    assert!(snapshots.is_empty() && !only.final_due(), "every: 0 never snapshots");
}

#[test]
fn snapshot_policy_and_schedule() {
    assert!(!SnapshotPolicy { every: 0 }.due(u64::MAX));
    assert!(SnapshotPolicy { every: 5 }.due(5));
    assert!(!SnapshotPolicy { every: 5 }.due(4));
    assert_eq!(SnapshotPolicy::default().every, 1_000);
    let mut s = SnapshotSchedule::new(SnapshotPolicy { every: 2 });
    assert!(!s.final_due());
    assert!(!s.applied(1));
    assert!(s.applied(1));
    s.saved();
    assert_eq!((s.unsaved(), s.final_due()), (0, false));
    assert!(!s.applied(0));
    assert!(s.applied(u64::MAX) && s.applied(u64::MAX), "saturates, never wraps");
}

/// `store.execute` as the bindings run it: fold from `begin()`, decide (withdraw
/// `amount` when the balance allows it), append expecting `version()`, retry on a
/// conflict while `retry` allows. `interfere(attempt)` appends as another writer right
/// before the append of that attempt. Returns the outcome and the folds' first versions.
fn execute(
    store: &MemoryStore<i64>,
    s: &StreamId,
    amount: i64,
    max_attempts: u64,
    interfere: impl Fn(u32) -> bool,
) -> (Result<(i64, CommandAttempts)>, Vec<u64>) {
    let mut attempts = CommandAttempts::new(max_attempts);
    let mut balance = 0;
    let mut folds = Vec::new();
    let outcome = loop {
        let from = match attempts.begin() {
            Ok(from) => from,
            Err(e) => break Err(e),
        };
        folds.push(from.0);
        let read = crate::store::ReadOptions { from_version: Some(from), ..Default::default() };
        for e in block_on(store.read(s, read)).unwrap() {
            balance += e.data;
            attempts.folded(e.version);
        }
        if balance < amount {
            break Err(Error::invalid("amount", "insufficient funds"));
        }
        if interfere(attempts.attempts()) {
            block_on(store.append(s, ExpectedVersion::Any, vec![ev("Deposited", 1)])).unwrap();
        }
        let expected = ExpectedVersion::Exact(attempts.version());
        match block_on(store.append(s, expected, vec![ev("Withdrawn", -amount)])) {
            Ok(_) => break Ok((balance, attempts.clone())),
            Err(e) if attempts.retry(matches!(e, Error::VersionConflict { .. })) => continue,
            Err(e) => break Err(e),
        }
    };
    (outcome, folds)
}

#[test]
fn a_conflict_is_retried_on_the_missed_events_only_then_given_up_when_bounded() {
    let store = MemoryStore::new();
    let s = sid("account");
    block_on(store.append(&s, ExpectedVersion::NoStream, vec![ev("Deposited", 10)])).unwrap();
    let (outcome, folds) = execute(&store, &s, 5, 3, |attempt| attempt == 1);
    let (balance, attempts) = outcome.unwrap();
    assert_eq!(attempts.attempts(), 2, "one conflict, one retry");
    assert_eq!(balance, 11, "the retry saw the other writer's deposit");
    assert_eq!(attempts.version(), Version(2));
    assert_eq!(folds, [1, 2], "the retry folded only the missed event");
    assert_eq!(block_on(store.version(&s)).unwrap(), Version(3));

    // Always contended, at most 2 attempts: the conflict comes back.
    let (outcome, folds) = execute(&store, &s, 1, 2, |_| true);
    assert_eq!(outcome.unwrap_err().js_name(), "VersionConflictError");
    assert_eq!(folds.len(), 2);

    // decide's own error is not retried.
    let (outcome, folds) = execute(&store, &s, 1_000, 3, |_| false);
    assert_eq!(
        outcome.unwrap_err().to_string(),
        Error::invalid("amount", "insufficient funds").to_string()
    );
    assert_eq!(folds.len(), 1);
}

#[test]
fn attempts_are_bounded_and_only_conflicts_retry() {
    let one = |max: u64| {
        let mut a = CommandAttempts::new(max);
        let mut n = 0;
        while a.begin().is_ok() {
            n += 1;
            if !a.retry(true) {
                break;
            }
        }
        n
    };
    assert_eq!(one(0), 1, "at least one attempt");
    assert_eq!(one(1), 1);
    assert_eq!(one(u64::from(DEFAULT_MAX_ATTEMPTS)), 3);
    assert_eq!(one(u64::MAX), MAX_ATTEMPTS_LIMIT);
    let mut a = CommandAttempts::new(5);
    a.begin().unwrap();
    assert!(!a.retry(false), "another error is never retried");
    a.folded(Version(7));
    a.folded(Version(3));
    assert_eq!(a.version(), Version(7), "the version never goes back");
    a.folded(Version(crate::event::MAX_SAFE_INTEGER));
    assert_eq!(a.begin().unwrap_err().js_name(), "InvalidInputError", "a full stream cannot grow");
}

proptest! {
    /// Pages of any size plan the same replay as one read of everything, for any bound,
    /// and never read more than one page beyond the events.
    #[test]
    fn pages_of_any_size_replay_like_one_read(
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
        let paged = replay(&store, scope.as_ref(), &options).unwrap();
        prop_assert_eq!(paged.sum, expected);
        let one = ReplayOptions { page_size: usize::MAX, ..options };
        let once = replay(&store, scope.as_ref(), &one).unwrap();
        let outcome = |r: &Run| (r.sum, r.applied, r.last_version, r.last_position);
        prop_assert_eq!(outcome(&once), outcome(&paged));
        prop_assert!(paged.pages <= paged.applied / page as u64 + 1);
    }

    /// A snapshot at any point plus the tail equals a full replay.
    #[test]
    fn snapshot_plus_tail_is_a_full_replay(n in 0i64..150, every in 1u64..60, page in 1usize..50, more in 0i64..40) {
        let store = store_with(n);
        let policy = SnapshotPolicy { every };
        let (_, _, _, snapshots) = catch_up(&store, (0, 0), &mut SnapshotSchedule::new(policy), page, None);
        for i in 1..=more {
            block_on(store.append(&sid("c"), ExpectedVersion::Any, vec![ev("Added", 1000 + i)])).unwrap();
        }
        let from = snapshots.last().copied().unwrap_or((0, 0));
        let (state, after, _, _) = catch_up(&store, from, &mut SnapshotSchedule::new(policy), page, None);
        let full = replay(&store, None, &ReplayOptions::default()).unwrap();
        prop_assert_eq!(state, full.sum);
        prop_assert_eq!(after, (n + more) as u64);
    }
}
