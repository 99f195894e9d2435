//! The conformance suite every [`EventStore`] backend must pass.
//!
//! Run natively against [`MemoryStore`](super::MemoryStore) (`cargo test`) and in
//! Chromium and Firefox against the IndexedDB backend (`tests/browser_store.rs`). Each case
//! returns `Err(reason)` instead of panicking, so a browser run reports every failure
//! by name.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Direction, EventStore, ReadOptions};
use crate::error::Error;
use crate::event::{
    AppendResult, EventId, EventType, ExpectedVersion, NewEvent, Position, StreamId, Version,
};

/// One case's outcome: `Err` holds a human-readable reason.
pub type CaseResult = Result<(), String>;

/// How the suite makes payloads for a backend and reads them back.
pub struct Payloads<P> {
    /// Makes the payload tagged `n`.
    pub make: fn(u32) -> P,
    /// Reads the tag back out of a stored payload.
    pub tag: fn(&P) -> Option<u32>,
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("{} (line {})", format_args!($($msg)+), line!()));
        }
    };
}

macro_rules! ok {
    ($e:expr) => {
        $e.map_err(|e| format!("{} failed: {e} (line {})", stringify!($e), line!()))?
    };
}

fn stream(name: &str) -> Result<StreamId, String> {
    StreamId::new(name).map_err(|e| e.to_string())
}

fn events<P>(
    payloads: &Payloads<P>,
    tags: &[u32],
    ids: Option<&[&str]>,
) -> Result<Vec<NewEvent<P>>, String> {
    tags.iter()
        .enumerate()
        .map(|(i, &t)| {
            let event_type = EventType::new(format!("T{t}")).map_err(|e| e.to_string())?;
            let mut e = NewEvent::new(event_type, (payloads.make)(t));
            if let Some(id) = ids.and_then(|ids| ids.get(i)) {
                e.id = Some(EventId::new(*id).map_err(|e| e.to_string())?);
            }
            Ok(e)
        })
        .collect()
}

fn versions<P>(events: &[crate::event::Event<P>]) -> Vec<u64> {
    events.iter().map(|e| e.version.0).collect()
}

/// Runs every case against stores made by `fresh` (a new, empty store per case) and
/// returns each case's name and outcome.
pub async fn run_all<S, F, Fut>(
    mut fresh: F,
    payloads: &Payloads<S::Payload>,
) -> Vec<(&'static str, CaseResult)>
where
    S: EventStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut results = Vec::new();
    results.push(("empty store", empty_store(&fresh().await).await));
    results.push(("append and read", append_and_read(&fresh().await, payloads).await));
    results.push(("expected versions", expected_versions(&fresh().await, payloads).await));
    results.push(("idempotent appends", idempotent_appends(&fresh().await, payloads).await));
    results.push(("bad batches write nothing", bad_batches(&fresh().await, payloads).await));
    results.push(("global log and streams", global_log(&fresh().await, payloads).await));
    results.push(("concurrent racers", racers(&fresh().await, payloads).await));
    results.push(("closed store", closed(&fresh().await, payloads).await));
    results
}

/// A new store has no streams and no events.
pub async fn empty_store<S: EventStore>(store: &S) -> CaseResult {
    let s = stream("nothing")?;
    ensure!(ok!(store.version(&s).await) == Version(0), "empty stream has version 0");
    ensure!(ok!(store.read(&s, ReadOptions::default()).await).is_empty(), "read is empty");
    ensure!(ok!(store.read_all(Position(0), 10).await).is_empty(), "log is empty");
    ensure!(ok!(store.streams().await).is_empty(), "no streams");
    Ok(())
}

/// Versions start at 1, positions at 1; reads honour from, limit and direction.
pub async fn append_and_read<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let s = stream("cart-1")?;
    let r =
        ok!(store.append(&s, ExpectedVersion::NoStream, events(p, &[1, 2, 3, 4, 5], None)?).await);
    ensure!(
        r == AppendResult {
            stream: s.clone(),
            first_version: Version(1),
            last_version: Version(5),
            first_position: Position(1),
            last_position: Position(5),
        },
        "append result {r:?}"
    );
    ensure!(ok!(store.version(&s).await) == Version(5), "version after append");
    let all = ok!(store.read(&s, ReadOptions::default()).await);
    ensure!(versions(&all) == [1, 2, 3, 4, 5], "forward read {:?}", versions(&all));
    let tags: Vec<Option<u32>> = all.iter().map(|e| (p.tag)(&e.data)).collect();
    ensure!(tags == [Some(1), Some(2), Some(3), Some(4), Some(5)], "payloads round-trip: {tags:?}");
    ensure!(all.iter().all(|e| e.stream == s && e.schema == 1), "stream and schema kept");
    ensure!(
        all.iter().map(|e| e.event_type.as_str()).eq(["T1", "T2", "T3", "T4", "T5"]),
        "types kept"
    );
    ensure!(all.iter().all(|e| e.recorded_at > 0), "recordedAt set");
    let ids: std::collections::HashSet<_> = all.iter().map(|e| e.id.clone()).collect();
    ensure!(ids.len() == 5, "generated ids are unique");
    ensure!(all.windows(2).all(|w| w[0].id < w[1].id), "generated ids sort in append order");

    let page = ok!(store
        .read(
            &s,
            ReadOptions { from_version: Some(Version(2)), limit: 2, direction: Direction::Forward }
        )
        .await);
    ensure!(versions(&page) == [2, 3], "page {:?}", versions(&page));
    let back = ok!(store
        .read(&s, ReadOptions { from_version: None, limit: 2, direction: Direction::Backward })
        .await);
    ensure!(versions(&back) == [5, 4], "backward {:?}", versions(&back));
    let back_from = ok!(store
        .read(
            &s,
            ReadOptions {
                from_version: Some(Version(2)),
                limit: 10,
                direction: Direction::Backward
            }
        )
        .await);
    ensure!(versions(&back_from) == [2, 1], "backward from 2 {:?}", versions(&back_from));
    let past = ok!(store
        .read(
            &s,
            ReadOptions {
                from_version: Some(Version(6)),
                limit: 10,
                direction: Direction::Forward
            }
        )
        .await);
    ensure!(past.is_empty(), "reading past the head is empty");
    Ok(())
}

/// The four expected-version forms; a conflict carries its fields and writes nothing.
pub async fn expected_versions<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let s = stream("ev")?;
    let conflict = |r: Result<AppendResult, Error>,
                    expected: ExpectedVersion,
                    actual: u64|
     -> CaseResult {
        match r {
            Err(Error::VersionConflict { stream: cs, expected: ce, actual: ca }) => {
                ensure!(
                    cs == s && ce == expected && ca == Version(actual),
                    "conflict fields {cs} {ce} {ca}"
                );
                Ok(())
            }
            other => Err(format!("expected a conflict ({expected} vs {actual}), got {other:?}")),
        }
    };
    conflict(
        store.append(&s, ExpectedVersion::Exists, events(p, &[1], None)?).await,
        ExpectedVersion::Exists,
        0,
    )?;
    conflict(
        store.append(&s, ExpectedVersion::Exact(Version(1)), events(p, &[1], None)?).await,
        ExpectedVersion::Exact(Version(1)),
        0,
    )?;
    ok!(store.append(&s, ExpectedVersion::Exact(Version(0)), events(p, &[1], None)?).await);
    conflict(
        store.append(&s, ExpectedVersion::NoStream, events(p, &[2], None)?).await,
        ExpectedVersion::NoStream,
        1,
    )?;
    conflict(
        store.append(&s, ExpectedVersion::Exact(Version(0)), events(p, &[2], None)?).await,
        ExpectedVersion::Exact(Version(0)),
        1,
    )?;
    conflict(
        store.append(&s, ExpectedVersion::Exact(Version(2)), events(p, &[2, 3], None)?).await,
        ExpectedVersion::Exact(Version(2)),
        1,
    )?;
    ok!(store.append(&s, ExpectedVersion::Exists, events(p, &[2], None)?).await);
    ok!(store.append(&s, ExpectedVersion::Exact(Version(2)), events(p, &[3], None)?).await);
    ok!(store.append(&s, ExpectedVersion::Any, events(p, &[4], None)?).await);
    let t = stream("ev-any")?;
    ok!(store.append(&t, ExpectedVersion::Any, events(p, &[5], None)?).await);
    ensure!(ok!(store.version(&s).await) == Version(4), "only the accepted appends landed");
    ensure!(ok!(store.read_all(Position(0), 100).await).len() == 5, "conflicts wrote nothing");
    ensure!(store.metrics().conflicts == 5, "conflicts counted: {:?}", store.metrics());
    Ok(())
}

/// Re-appending stored ids returns the original result and writes nothing.
pub async fn idempotent_appends<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let s = stream("idem")?;
    ok!(store.append(&s, ExpectedVersion::Any, events(p, &[0], None)?).await);
    let first = ok!(store
        .append(&s, ExpectedVersion::Exact(Version(1)), events(p, &[1, 2], Some(&["e-1", "e-2"]))?)
        .await);
    let again = ok!(store
        .append(&s, ExpectedVersion::Exact(Version(1)), events(p, &[1, 2], Some(&["e-1", "e-2"]))?)
        .await);
    ensure!(first == again, "retry with the old expected version returns the original: {again:?}");
    let any = ok!(store
        .append(&s, ExpectedVersion::Any, events(p, &[1, 2], Some(&["e-1", "e-2"]))?)
        .await);
    ensure!(first == any, "retry with any returns the original");
    let mixed =
        store.append(&s, ExpectedVersion::Any, events(p, &[2, 3], Some(&["e-2", "e-3"]))?).await;
    ensure!(
        matches!(mixed, Err(Error::InvalidInput { .. })),
        "mixed stored/new ids are refused: {mixed:?}"
    );
    let t = stream("idem-other")?;
    let elsewhere = store.append(&t, ExpectedVersion::Any, events(p, &[1], Some(&["e-1"]))?).await;
    ensure!(
        matches!(elsewhere, Err(Error::InvalidInput { .. })),
        "an id of another stream is refused: {elsewhere:?}"
    );
    ensure!(ok!(store.version(&s).await) == Version(3), "no duplicates written");
    ensure!(ok!(store.version(&t).await) == Version(0), "nothing written to the other stream");
    ensure!(ok!(store.read_all(Position(0), 100).await).len() == 3, "log has 3 events");
    Ok(())
}

/// Invalid batches are refused before anything is written.
pub async fn bad_batches<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let s = stream("bad")?;
    let empty = store.append(&s, ExpectedVersion::Any, Vec::new()).await;
    ensure!(matches!(empty, Err(Error::InvalidInput { .. })), "empty batch refused: {empty:?}");
    let dup = store
        .append(&s, ExpectedVersion::Any, events(p, &[1, 2, 3], Some(&["d-1", "d-2", "d-1"]))?)
        .await;
    ensure!(
        matches!(dup, Err(Error::InvalidInput { .. })),
        "duplicate id in batch refused: {dup:?}"
    );
    ensure!(ok!(store.version(&s).await) == Version(0), "nothing written");
    ensure!(ok!(store.read_all(Position(0), 10).await).is_empty(), "log empty");
    Ok(())
}

/// Positions interleave across streams; `streams()` lists each with its version.
pub async fn global_log<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let (a, b) = (stream("b-stream")?, stream("a-stream")?);
    ok!(store.append(&a, ExpectedVersion::Any, events(p, &[1, 2], None)?).await);
    let rb = ok!(store.append(&b, ExpectedVersion::Any, events(p, &[3], None)?).await);
    ensure!(rb.first_position == Position(3), "positions are global: {rb:?}");
    ok!(store.append(&a, ExpectedVersion::Any, events(p, &[4], None)?).await);
    let log = ok!(store.read_all(Position(0), 100).await);
    let shape: Vec<(String, u64, u64)> =
        log.iter().map(|e| (e.stream.to_string(), e.version.0, e.position.0)).collect();
    let want = [("b-stream", 1, 1), ("b-stream", 2, 2), ("a-stream", 1, 3), ("b-stream", 3, 4)];
    ensure!(shape.iter().map(|(s, v, p)| (s.as_str(), *v, *p)).eq(want), "log order {shape:?}");
    let from3 = ok!(store.read_all(Position(3), 1).await);
    ensure!(from3.len() == 1 && from3[0].position == Position(3), "read_all from is inclusive");
    let streams = ok!(store.streams().await);
    let listed: Vec<(String, u64, u64)> =
        streams.iter().map(|s| (s.stream.to_string(), s.version.0, s.last_position.0)).collect();
    ensure!(
        listed == [("a-stream".to_string(), 1, 3), ("b-stream".to_string(), 3, 4)],
        "streams {listed:?}"
    );
    Ok(())
}

/// Twenty appends racing on one expected version: exactly one wins.
pub async fn racers<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let s = stream("race")?;
    ok!(store.append(&s, ExpectedVersion::Any, events(p, &[0], None)?).await);
    let mut racers = Vec::new();
    for i in 0..20 {
        let batch = events(p, &[i, i + 100], None)?;
        let s = &s;
        racers.push(Box::pin(async move {
            store.append(s, ExpectedVersion::Exact(Version(1)), batch).await
        }) as Pin<Box<dyn Future<Output = Result<AppendResult, Error>> + '_>>);
    }
    let outcomes = join_all(racers).await;
    let wins = outcomes.iter().filter(|r| r.is_ok()).count();
    let conflicts = outcomes
        .iter()
        .filter(|r| matches!(r, Err(Error::VersionConflict { actual: Version(3), .. })))
        .count();
    ensure!(wins == 1 && conflicts == 19, "one winner, 19 conflicts at version 3: {outcomes:?}");
    ensure!(ok!(store.version(&s).await) == Version(3), "only the winner's batch landed");
    Ok(())
}

/// Every call on a closed store fails with `Closed`.
pub async fn closed<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let s = stream("closed")?;
    store.close();
    let append = store.append(&s, ExpectedVersion::Any, events(p, &[1], None)?).await;
    ensure!(matches!(append, Err(Error::Closed)), "append after close: {append:?}");
    ensure!(matches!(store.version(&s).await, Err(Error::Closed)), "version after close");
    ensure!(
        matches!(store.read_all(Position(0), 1).await, Err(Error::Closed)),
        "read_all after close"
    );
    Ok(())
}

/// Polls every future until all are done (a minimal `join_all`, so the suite needs no
/// executor crate).
pub async fn join_all<F: Future + Unpin>(futures: Vec<F>) -> Vec<F::Output> {
    struct JoinAll<F: Future> {
        pending: Vec<Option<F>>,
        done: Vec<Option<F::Output>>,
    }
    // The outputs are never pinned, only the (Unpin) futures are polled.
    impl<F: Future + Unpin> Unpin for JoinAll<F> {}
    impl<F: Future + Unpin> Future for JoinAll<F> {
        type Output = Vec<F::Output>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.get_mut();
            for (slot, out) in this.pending.iter_mut().zip(this.done.iter_mut()) {
                if let Some(future) = slot {
                    if let Poll::Ready(v) = Pin::new(future).poll(cx) {
                        *out = Some(v);
                        *slot = None;
                    }
                }
            }
            if this.pending.iter().all(Option::is_none) {
                Poll::Ready(this.done.iter_mut().filter_map(Option::take).collect())
            } else {
                Poll::Pending
            }
        }
    }
    let n = futures.len();
    JoinAll {
        pending: futures.into_iter().map(Some).collect(),
        done: (0..n).map(|_| None).collect(),
    }
    .await
}
