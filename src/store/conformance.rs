//! The conformance suite every [`EventStore`] backend must pass.
//!
//! Run natively against [`MemoryStore`](super::MemoryStore) (`cargo test`) and in
//! Chromium and Firefox against the IndexedDB backend (`tests/browser_store.rs`). Each case
//! returns `Err(reason)` instead of panicking, so a browser run reports every failure
//! by name.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Direction, EventStore, ReadOptions, Retention, StreamInfo};
use crate::error::Error;
use crate::event::{
    AppendResult, EventId, EventType, ExpectedVersion, NewEvent, Position, StreamId, Tag, Version,
};
use crate::query::{AppendCondition, Query, QueryItem, QueryOptions};

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

/// `streams()` as `(stream, version, last position)` rows, for comparing with a list.
fn listed(streams: &[StreamInfo]) -> Vec<(String, u64, u64)> {
    streams.iter().map(|s| (s.stream.to_string(), s.version.0, s.last_position.0)).collect()
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
    results.push(("tags and query reads", query_reads(&fresh().await, payloads).await));
    results.push(("conditional appends", conditional_appends(&fresh().await, payloads).await));
    results.push(("conditional racers", conditional_racers(&fresh().await, payloads).await));
    results.push(("retention", retention(&fresh().await, payloads).await));
    results.push(("closed store", closed(&fresh().await, payloads).await));
    results
}

/// One event of type `event_type` carrying `tags`, with payload `n`.
fn tagged<P>(
    payloads: &Payloads<P>,
    n: u32,
    event_type: &str,
    tags: &[&str],
) -> Result<NewEvent<P>, String> {
    let tags = tags.iter().map(|t| Tag::new(*t)).collect::<Result<Vec<_>, _>>();
    Ok(NewEvent::new(EventType::new(event_type).map_err(|e| e.to_string())?, (payloads.make)(n))
        .with_tags(tags.map_err(|e| e.to_string())?))
}

/// A query of items given as (types, tags) string lists.
fn query(items: &[(&[&str], &[&str])]) -> Result<Query, String> {
    let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|s| s.to_string()).collect());
    let items = items
        .iter()
        .enumerate()
        .map(|(i, (types, tags))| QueryItem::new(&format!("query[{i}]"), list(types), list(tags)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Query::items("query", items).map_err(|e| e.to_string())
}

fn positions<P>(events: &[crate::event::Event<P>]) -> Vec<u64> {
    events.iter().map(|e| e.position.0).collect()
}

/// Tags are stored and read back; queries select by type and tag across streams, ORed
/// items, in position order, with after, backwards and limit; over-limit tags write
/// nothing.
pub async fn query_reads<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let (u1, u2, c1) = (stream("user-1")?, stream("user-2")?, stream("course-1")?);
    let any = ExpectedVersion::Any;
    // Positions: 1 user-1 claims ada; 2 course c1 defined; 3 user-2 claims bob;
    // 4 s1 joins c1; 5 user-1 releases ada; 6 s2 joins c1.
    ok!(store
        .append(&u1, any, vec![tagged(p, 1, "UsernameClaimed", &["username:ada", "account:1"])?])
        .await);
    ok!(store.append(&c1, any, vec![tagged(p, 2, "CourseDefined", &["course:c1"])?]).await);
    ok!(store
        .append(&u2, any, vec![tagged(p, 3, "UsernameClaimed", &["username:bob", "account:2"])?])
        .await);
    ok!(store
        .append(
            &c1,
            any,
            vec![
                tagged(p, 4, "StudentSubscribed", &["course:c1", "student:s1"])?,
                tagged(p, 5, "Noted", &[])?,
            ]
        )
        .await);
    ok!(store
        .append(&u1, any, vec![tagged(p, 6, "UsernameReleased", &["username:ada", "account:1"])?])
        .await);
    ok!(store
        .append(&c1, any, vec![tagged(p, 7, "StudentSubscribed", &["course:c1", "student:s2"])?])
        .await);

    let read = ok!(store.read(&u1, ReadOptions::default()).await);
    let tags: Vec<Vec<&str>> =
        read.iter().map(|e| e.tags.iter().map(Tag::as_str).collect()).collect();
    ensure!(
        tags == [vec!["username:ada", "account:1"], vec!["username:ada", "account:1"]],
        "tags round-trip in order: {tags:?}"
    );
    let all_log = ok!(store.read_all(Position(0), 100).await);
    ensure!(all_log[4].tags.is_empty(), "an event without tags has none");

    let q = |items: &[(&[&str], &[&str])]| query(items);
    let run = |query: Query, options: QueryOptions| async move {
        store.query(&query, options).await.map(|events| positions(&events))
    };
    let default = QueryOptions::default();
    let ada = ok!(run(q(&[(&[], &["username:ada"])])?, default).await);
    ensure!(ada == [1, 6], "by tag, across types: {ada:?}");
    let claims = ok!(run(q(&[(&["UsernameClaimed"], &[])])?, default).await);
    ensure!(claims == [1, 3], "by type, across streams: {claims:?}");
    let both =
        ok!(run(q(&[(&["StudentSubscribed"], &["course:c1", "student:s2"])])?, default).await);
    ensure!(both == [7], "type and every tag: {both:?}");
    let ored = ok!(run(
        q(&[
            (&["UsernameClaimed", "UsernameReleased"], &["username:ada"]),
            (&[], &["student:s1"])
        ])?,
        default
    )
    .await);
    ensure!(ored == [1, 4, 6], "items ORed, in position order, once each: {ored:?}");
    let overlap =
        ok!(run(q(&[(&[], &["course:c1"]), (&["StudentSubscribed"], &[])])?, default).await);
    ensure!(overlap == [2, 4, 7], "an event matching two items comes once: {overlap:?}");
    let none = ok!(run(q(&[(&[], &["username:zed"])])?, default).await);
    ensure!(none.is_empty(), "unknown tag: nothing {none:?}");
    let everything = ok!(run(Query::All, default).await);
    ensure!(everything == [1, 2, 3, 4, 5, 6, 7], "all {everything:?}");
    let after = ok!(run(
        q(&[(&[], &["course:c1"])])?,
        QueryOptions { after: Some(Position(2)), ..default }
    )
    .await);
    ensure!(after == [4, 7], "after is exclusive: {after:?}");
    let back = ok!(run(
        q(&[(&[], &["course:c1"])])?,
        QueryOptions { backwards: true, limit: 2, ..default }
    )
    .await);
    ensure!(back == [7, 4], "backwards: newest first, limited: {back:?}");
    let limited =
        ok!(run(Query::All, QueryOptions { after: Some(Position(3)), limit: 2, ..default }).await);
    ensure!(limited == [4, 5], "limit forward {limited:?}");
    let events = ok!(store.query(&q(&[(&[], &["student:s1"])])?, default).await);
    ensure!(
        events.len() == 1
            && events[0].stream == c1
            && events[0].version == Version(2)
            && (p.tag)(&events[0].data) == Some(4),
        "query returns whole events: {:?}",
        events.first().map(|e| (&e.stream, e.version))
    );

    let too_many: Vec<String> = (0..=crate::event::MAX_TAGS).map(|i| format!("t{i}")).collect();
    let mut over = tagged(p, 9, "T", &[])?;
    over.tags =
        too_many.into_iter().map(Tag::new).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let refused = store.append(&u1, any, vec![tagged(p, 8, "T", &["ok"])?, over]).await;
    ensure!(
        matches!(&refused, Err(Error::InvalidInput { field, .. }) if field == "events[1].tags"),
        "over-limit tags refused with the field path: {refused:?}"
    );
    ensure!(ok!(store.read_all(Position(0), 100).await).len() == 7, "nothing written");
    Ok(())
}

/// A condition fails the append when an event after its position matches, naming the
/// first one, and writes nothing; it passes otherwise. An idempotent retry is answered
/// before the condition.
pub async fn conditional_appends<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let any = ExpectedVersion::Any;
    let (u1, u2) = (stream("user-1")?, stream("user-2")?);
    let ada = query(&[(&["UsernameClaimed", "UsernameReleased"], &["username:ada"])])?;
    let unique = |after: Option<u64>| AppendCondition {
        fail_if_events_match: ada.clone(),
        after: after.map(Position),
    };
    let claim = |n, ids: Option<&str>| -> Result<Vec<NewEvent<S::Payload>>, String> {
        let mut e = tagged(p, n, "UsernameClaimed", &["username:ada"])?;
        e.id = ids.map(EventId::new).transpose().map_err(|e| e.to_string())?;
        Ok(vec![e])
    };
    ok!(store
        .append(&stream("noise")?, any, vec![tagged(p, 0, "UsernameClaimed", &["username:bob"])?])
        .await);
    let first =
        ok!(store.append_if(&u1, any, Some(&unique(None)), claim(1, Some("claim-1"))?).await);
    ensure!(first.first_position == Position(2), "no match: appended {first:?}");
    let again =
        ok!(store.append_if(&u1, any, Some(&unique(None)), claim(1, Some("claim-1"))?).await);
    ensure!(again == first, "a retry of the same ids returns the original result");
    let lost = store.append_if(&u2, any, Some(&unique(Some(1))), claim(2, None)?).await;
    match &lost {
        Err(Error::AppendCondition { stream: s, position, event_id, after }) => ensure!(
            *s == u2
                && *position == Position(2)
                && event_id.as_str() == "claim-1"
                && *after == Some(Position(1)),
            "condition error fields: {lost:?}"
        ),
        other => return Err(format!("expected an append condition error, got {other:?}")),
    }
    ensure!(ok!(store.version(&u2).await) == Version(0), "a failed condition writes nothing");
    let without_after = store.append_if(&u2, any, Some(&unique(None)), claim(2, None)?).await;
    ensure!(
        matches!(
            without_after,
            Err(Error::AppendCondition { position: Position(2), after: None, .. })
        ),
        "without after, every event counts: {without_after:?}"
    );
    let decided_later = ok!(store
        .append_if(
            &u1,
            any,
            Some(&unique(Some(2))),
            vec![tagged(p, 3, "UsernameReleased", &["username:ada"])?]
        )
        .await);
    ensure!(decided_later.first_position == Position(3), "decided after the match: passes");
    // Two matches after 1: the first one is named.
    let first_named = store.append_if(&u2, any, Some(&unique(Some(1))), claim(4, None)?).await;
    ensure!(
        matches!(first_named, Err(Error::AppendCondition { position: Position(2), .. })),
        "the first matching position is named: {first_named:?}"
    );
    // The expected version is checked too, and first.
    let version =
        store.append_if(&u2, ExpectedVersion::Exists, Some(&unique(None)), claim(5, None)?).await;
    ensure!(
        matches!(version, Err(Error::VersionConflict { .. })),
        "expected version first: {version:?}"
    );
    let all = AppendCondition { fail_if_events_match: Query::All, after: Some(Position(3)) };
    ok!(store.append_if(&u2, any, Some(&all), claim(6, None)?).await);
    let any_event = store.append_if(&u2, any, Some(&all), claim(7, None)?).await;
    ensure!(
        matches!(any_event, Err(Error::AppendCondition { position: Position(4), .. })),
        "\"all\" matches any event after: {any_event:?}"
    );
    ensure!(ok!(store.read_all(Position(0), 100).await).len() == 4, "only passing appends landed");
    Ok(())
}

/// Twenty appends to different streams racing to claim one username, each decided on
/// the same (empty) state: exactly one wins, the others fail the condition at its event.
pub async fn conditional_racers<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    ok!(store.append(&stream("before")?, ExpectedVersion::Any, events(p, &[0], None)?).await);
    let condition = AppendCondition {
        fail_if_events_match: query(&[(&["UsernameClaimed"], &["username:ada"])])?,
        after: Some(Position(1)),
    };
    let mut streams = Vec::new();
    for i in 0..20 {
        streams.push(stream(&format!("account-{i}"))?);
    }
    let mut racers = Vec::new();
    for (i, s) in (0u32..).zip(&streams) {
        let batch = vec![tagged(p, i, "UsernameClaimed", &["username:ada", "x"])?];
        let condition = &condition;
        racers.push(Box::pin(async move {
            store.append_if(s, ExpectedVersion::NoStream, Some(condition), batch).await
        }) as Pin<Box<dyn Future<Output = Result<AppendResult, Error>> + '_>>);
    }
    let outcomes = join_all(racers).await;
    let wins = outcomes.iter().filter(|r| r.is_ok()).count();
    let failed = outcomes
        .iter()
        .filter(|r| matches!(r, Err(Error::AppendCondition { position: Position(2), .. })))
        .count();
    ensure!(wins == 1 && failed == 19, "one winner, 19 condition failures at 2: {outcomes:?}");
    let claims = ok!(store.query(&condition.fail_if_events_match, QueryOptions::default()).await);
    ensure!(positions(&claims) == [2], "one claim stored: {:?}", positions(&claims));
    Ok(())
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
    let listed = listed(&ok!(store.streams().await));
    ensure!(
        listed == [("a-stream".to_string(), 1, 3), ("b-stream".to_string(), 3, 4)],
        "streams {listed:?}"
    );
    Ok(())
}

fn not_retained<T>(result: Result<T, Error>, from: u64, stream: Option<(&str, u64)>) -> CaseResult {
    match result {
        Err(Error::NotRetained { from: f, stream: s })
            if f == Position(from) && s.as_ref().map(|(s, v)| (s.as_str(), v.0)) == stream =>
        {
            Ok(())
        }
        Ok(_) => Err(format!("expected NotRetained from {from} {stream:?}, the read answered")),
        Err(e) => Err(format!("expected NotRetained from {from} {stream:?}, got {e:?}")),
    }
}

/// Retention in a store that does not sync: `compact` drops the oldest events beyond
/// the newest N; reads that start below the floor are refused, reads without a start read
/// what is held; versions, `streams()` and expected-version appends are unchanged.
pub async fn retention<S: EventStore>(store: &S, p: &Payloads<S::Payload>) -> CaseResult {
    let (a, b) = (stream("ret-a")?, stream("ret-b")?);
    ok!(store.append(&a, ExpectedVersion::Any, events(p, &[1, 2, 3], None)?).await);
    ok!(store.append(&b, ExpectedVersion::Any, events(p, &[4, 5], None)?).await);
    ok!(store.append(&a, ExpectedVersion::Any, events(p, &[6, 7, 8, 9, 10], None)?).await);
    ensure!(ok!(store.floor().await) == Position(1), "nothing dropped yet");
    let keep4 = Retention { events: Some(4), ms: None, keep_pending: false };
    let done = ok!(store.compact(&keep4).await);
    ensure!(done.dropped == 6 && done.from == Position(7), "compacted {done:?}");
    let again = ok!(store.compact(&keep4).await);
    ensure!(again.dropped == 0 && again.from == Position(7), "again {again:?}");
    let wider = Retention { events: Some(100), ..keep4 };
    let wider = ok!(store.compact(&wider).await);
    ensure!(wider.dropped == 0 && wider.from == Position(7), "the floor never falls {wider:?}");
    ensure!(ok!(store.floor().await) == Position(7), "floor");

    not_retained(store.read_all(Position(0), 100).await, 7, None)?;
    not_retained(store.read_all(Position(6), 100).await, 7, None)?;
    let log = ok!(store.read_all(Position(7), 100).await);
    ensure!(positions(&log) == [7, 8, 9, 10], "held log {:?}", positions(&log));
    let tags: Vec<Option<u32>> = log.iter().map(|e| (p.tag)(&e.data)).collect();
    ensure!(tags == [Some(7), Some(8), Some(9), Some(10)], "payloads {tags:?}");
    let after =
        |after: Option<u64>| QueryOptions { after: after.map(Position), ..Default::default() };
    not_retained(store.query(&Query::All, after(Some(5))).await, 7, None)?;
    let q = ok!(store.query(&Query::All, after(Some(6))).await);
    ensure!(positions(&q) == [7, 8, 9, 10], "query after the floor {:?}", positions(&q));
    let q = ok!(store.query(&Query::All, after(None)).await);
    ensure!(positions(&q) == [7, 8, 9, 10], "query without a start {:?}", positions(&q));

    let read = ok!(store.read(&a, ReadOptions::default()).await);
    ensure!(versions(&read) == [5, 6, 7, 8], "stream read without a start {:?}", versions(&read));
    let from =
        |v: u64, direction| ReadOptions { from_version: Some(Version(v)), limit: 100, direction };
    let read = ok!(store.read(&a, from(5, Direction::Forward)).await);
    ensure!(versions(&read) == [5, 6, 7, 8], "from the held start {:?}", versions(&read));
    not_retained(store.read(&a, from(4, Direction::Forward)).await, 7, Some(("ret-a", 5)))?;
    let back = ReadOptions { limit: 2, direction: Direction::Backward, ..Default::default() };
    ensure!(versions(&ok!(store.read(&a, back).await)) == [8, 7], "backward");
    let all_back = ReadOptions { direction: Direction::Backward, ..Default::default() };
    ensure!(versions(&ok!(store.read(&a, all_back).await)) == [8, 7, 6, 5], "backward, all held");
    ensure!(ok!(store.read(&b, ReadOptions::default()).await).is_empty(), "b is all dropped");
    not_retained(store.read(&b, from(1, Direction::Forward)).await, 7, Some(("ret-b", 3)))?;

    ensure!(ok!(store.version(&a).await) == Version(8), "a keeps its version");
    ensure!(ok!(store.version(&b).await) == Version(2), "b keeps its version");
    let listed = listed(&ok!(store.streams().await));
    ensure!(
        listed == [("ret-a".to_string(), 8, 10), ("ret-b".to_string(), 2, 5)],
        "streams {listed:?}"
    );
    let r =
        ok!(store.append(&b, ExpectedVersion::Exact(Version(2)), events(p, &[11], None)?).await);
    ensure!(r.first_version == Version(3) && r.first_position == Position(11), "append {r:?}");
    let stale = store.append(&b, ExpectedVersion::Exact(Version(2)), events(p, &[12], None)?).await;
    ensure!(matches!(stale, Err(Error::VersionConflict { .. })), "a stale append conflicts");
    ensure!(versions(&ok!(store.read(&b, ReadOptions::default()).await)) == [3], "b's new event");
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
