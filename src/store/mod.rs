//! The append-only event store: the [`EventStore`] trait, its backends, and the rules
//! every backend shares.
//!
//! - [`MemoryStore`]: in memory, for edge workers, Node and tests (builds everywhere).
//! - `IndexedDbStore` (in the platform layer, `web::indexeddb`, wasm32 only): the
//!   browser's IndexedDB.
//! - `file::FileStore` (feature `file`): an append-only log file in a directory, for
//!   Node, Deno and Bun (over `node:fs`, `web::node_fs`) and native programs (`std::fs`).
//!
//! All run the same conformance suite (`conformance`, compiled for tests and the
//! `conformance` feature only): natively for memory and the file store, in Chromium and
//! Firefox for IndexedDB.
//!
//! ## Rules every backend keeps
//! - **Append-only.** No update, no delete; corrections are new events. The one way out
//!   of the log is retention ([`EventStore::compact`], [`retention`]): a prefix of it is
//!   dropped, and reads that start inside that prefix are refused, never served partially.
//! - **Atomic batches.** An append writes all of its events or none of them.
//! - **Expected version.** Checked inside the same write transaction as the write, so two
//!   racing writers (same page, two tabs, two workers) cannot both pass: exactly one wins,
//!   the other gets [`Error::VersionConflict`] and nothing is written.
//! - **Idempotency by event id.** Appending events whose ids are already stored, in the
//!   same stream and order, returns the original [`AppendResult`] and writes nothing, even
//!   when the expected version no longer matches (EventStoreDB's behaviour). A batch that
//!   mixes stored and new ids, or reuses an id of another stream, is rejected.
//! - **Append condition.** An append may carry an [`AppendCondition`]: checked in the
//!   same write transaction, after the expected version, so of two racing writers whose
//!   conditions each match the other's events exactly one wins; the other gets
//!   [`Error::AppendCondition`] naming the first matching position, and nothing is written.
//!   An idempotent retry is answered before the condition is looked at (its events are the
//!   ones that would match).
//! - **Query reads.** [`EventStore::query`] selects events of the whole log by type and
//!   tag ([`Query`]), in position order, through indexes: the cost follows the matching
//!   events, not the log.

use crate::error::{Error, Result};
use crate::event::{
    check_tags, AppendResult, Event, EventId, ExpectedVersion, NewEvent, Position, StreamId,
    Version,
};
use crate::query::{AppendCondition, Query, QueryOptions};

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(feature = "file")]
pub mod file;
mod memory;
pub mod retention;

pub use memory::MemoryStore;
pub use retention::{Compacted, Retention};

/// Most events one `append` call accepts (bigger batches: split them).
pub const MAX_BATCH_EVENTS: usize = 10_000;

/// Which way [`EventStore::read`] walks a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Ascending versions.
    #[default]
    Forward,
    /// Descending versions.
    Backward,
}

/// Options of [`EventStore::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// First version to return (inclusive). `None`: the stream's start when reading
    /// forward, its last event when reading backward.
    pub from_version: Option<Version>,
    /// Most events to return.
    pub limit: usize,
    /// Forward or backward.
    pub direction: Direction,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { from_version: None, limit: usize::MAX, direction: Direction::Forward }
    }
}

impl ReadOptions {
    /// The inclusive version range `[low, high]` this read covers in a stream whose
    /// version is `head`, or `None` when it covers nothing. Versions are contiguous
    /// (1..=head), so a range is exact: backends can fetch it with one range query.
    pub fn version_range(&self, head: Version) -> Option<(Version, Version)> {
        if self.limit == 0 || head.0 == 0 {
            return None;
        }
        let limit = u64::try_from(self.limit).unwrap_or(u64::MAX);
        match self.direction {
            Direction::Forward => {
                let low = self.from_version.map_or(1, |v| v.0.max(1));
                if low > head.0 {
                    return None;
                }
                let high = low.saturating_add(limit - 1).min(head.0);
                Some((Version(low), Version(high)))
            }
            Direction::Backward => {
                let high = self.from_version.map_or(head.0, |v| v.0.min(head.0));
                if high == 0 {
                    return None;
                }
                let low = high.saturating_sub(limit - 1).max(1);
                Some((Version(low), Version(high)))
            }
        }
    }
}

/// A stream and its current version, as listed by [`EventStore::streams`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream.
    pub stream: StreamId,
    /// Its version (number of events).
    pub version: Version,
    /// Global position of its last event.
    pub last_position: Position,
    /// How much of it the sync server confirmed (events after it are pending).
    pub synced_version: Version,
}

/// Counters of one store instance (since it was opened), like the go-cart-actor log's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Successful `append` calls that wrote events.
    pub appends: u64,
    /// Events written.
    pub events_written: u64,
    /// Approximate payload bytes written (as the caller's JSON size estimate).
    pub bytes_written: u64,
    /// `append` calls answered from stored events (idempotent retries).
    pub idempotent_appends: u64,
    /// `append` calls refused by a version conflict.
    pub conflicts: u64,
    /// Read calls (`read`, `read_all`, `version`, `streams`).
    pub reads: u64,
    /// Events returned by reads.
    pub events_read: u64,
}

/// An append-only, per-stream-versioned event log.
///
/// The futures are not `Send`: wasm32 is single-threaded, and the IndexedDB backend
/// holds JS values. Natively, drive them with any executor.
#[allow(async_fn_in_trait)]
pub trait EventStore {
    /// The type of `data` and `meta` (e.g. `JsValue` in the browser).
    type Payload: Clone;

    /// Appends `events` to `stream` if its version satisfies `expected`; all or nothing.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent<Self::Payload>>,
    ) -> Result<AppendResult> {
        self.append_if(stream, expected, None, events).await
    }

    /// [`EventStore::append`] under a condition too: fails with
    /// [`Error::AppendCondition`] when an event after `condition.after` matches
    /// `condition.fail_if_events_match`, checked atomically with the write.
    async fn append_if(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        events: Vec<NewEvent<Self::Payload>>,
    ) -> Result<AppendResult>;

    /// The events of the whole log matching `query`, in position order (newest first with
    /// `options.backwards`), after `options.after`, at most `options.limit`.
    async fn query(
        &self,
        query: &Query,
        options: QueryOptions,
    ) -> Result<Vec<Event<Self::Payload>>>;

    /// Reads events of one stream.
    async fn read(
        &self,
        stream: &StreamId,
        options: ReadOptions,
    ) -> Result<Vec<Event<Self::Payload>>>;

    /// Reads the global log from `from` (inclusive; `Position(0)` is the start), at most
    /// `limit` events, in position order.
    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<Self::Payload>>>;

    /// The stream's version: its number of events, `Version(0)` when it has none.
    async fn version(&self, stream: &StreamId) -> Result<Version>;

    /// Every stream with at least one event, ordered by stream id.
    async fn streams(&self) -> Result<Vec<StreamInfo>>;

    /// Applies `retention` now: drops the held events below the new floor (see
    /// [`retention`]); later reads below it are refused with [`Error::NotRetained`].
    async fn compact(&self, retention: &Retention) -> Result<Compacted>;

    /// The floor: the lowest global position still held (`Position(1)` until something is
    /// dropped; the next position when nothing is held).
    async fn floor(&self) -> Result<Position>;

    /// The counters of this store instance.
    fn metrics(&self) -> Metrics;

    /// Closes the store; every later call fails with [`Error::Closed`].
    fn close(&self);
}

/// Where an already-stored event id lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAt {
    /// Its stream.
    pub stream: StreamId,
    /// Its version in that stream.
    pub version: Version,
    /// Its global position.
    pub position: Position,
}

/// Checks a batch before any storage is touched: non-empty, within
/// [`MAX_BATCH_EVENTS`], no event id twice in the batch, each event's tags within the
/// limits ([`check_tags`]).
pub fn check_batch<P>(events: &[NewEvent<P>]) -> Result<()> {
    check_batch_ids(&mut events.iter().map(|e| e.id.as_ref()), events.len())?;
    for (i, event) in events.iter().enumerate() {
        if !event.tags.is_empty() {
            check_tags(&format!("events[{i}].tags"), &event.tags)?;
        }
    }
    Ok(())
}

/// [`check_batch`] on a batch's ids alone (`None`: the store makes the id). Not generic,
/// so it is compiled once.
pub fn check_batch_ids(ids: &mut dyn Iterator<Item = Option<&EventId>>, len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid("events", "must contain at least one event"));
    }
    if len > MAX_BATCH_EVENTS {
        return Err(Error::invalid(
            "events",
            format!("has {len} events; one append takes at most {MAX_BATCH_EVENTS}"),
        ));
    }
    // Sorted by id, then by index: the first repeat in batch order is the smallest index
    // that follows an equal id (no hash set: the browser wasm carries no hashing for it).
    let mut sorted: Vec<(&str, usize)> =
        ids.enumerate().filter_map(|(i, id)| Some((id?.as_str(), i))).collect();
    sorted.sort_unstable();
    let repeat = sorted.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| w[1]).min_by_key(|r| r.1);
    match repeat {
        Some((id, i)) => Err(Error::invalid(
            format!("events[{i}].id"),
            format!("{id} appears twice in the batch"),
        )),
        None => Ok(()),
    }
}

/// Decides whether a batch is a retry of an append that is already stored.
///
/// `found[i]` is where `events[i]`'s id is stored (`None`: not stored, or the event has
/// no id). Returns `Ok(None)` when nothing is stored (a normal append), the original
/// result when the whole batch is stored in `stream`, contiguously and in order, and an
/// error for anything in between, which can only be a caller's mistake.
pub fn resolve_retry(
    stream: &StreamId,
    ids: &[Option<EventId>],
    found: &[Option<StoredAt>],
) -> Result<Option<AppendResult>> {
    if found.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut previous: Option<&StoredAt> = None;
    for (i, (id, at)) in ids.iter().zip(found).enumerate() {
        let field = format!("events[{i}].id");
        let Some(at) = at else {
            return Err(Error::invalid(
                field,
                "the batch mixes events that are already stored with new ones; \
                 a retry must resend exactly the original batch",
            ));
        };
        let id = id.as_ref().map_or("", EventId::as_str);
        if &at.stream != stream {
            return Err(Error::invalid(
                field,
                format!("event id {id} is already stored in another stream ({})", at.stream),
            ));
        }
        if let Some(prev) = previous {
            if at.version.0 != prev.version.0 + 1 {
                return Err(Error::invalid(
                    field,
                    format!("event id {id} is already stored, but not in the order of this batch"),
                ));
            }
        }
        previous = Some(at);
    }
    match (found.first(), found.last()) {
        (Some(Some(first)), Some(Some(last))) => Ok(Some(AppendResult {
            stream: stream.clone(),
            first_version: first.version,
            last_version: last.version,
            first_position: first.position,
            last_position: last.position,
        })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(s: &str) -> StreamId {
        StreamId::new(s).unwrap()
    }

    #[test]
    fn version_ranges() {
        let fwd = |from: Option<u64>, limit| ReadOptions {
            from_version: from.map(Version),
            limit,
            direction: Direction::Forward,
        };
        let back = |from: Option<u64>, limit| ReadOptions {
            from_version: from.map(Version),
            limit,
            direction: Direction::Backward,
        };
        let r = |a, b| Some((Version(a), Version(b)));
        assert_eq!(fwd(None, usize::MAX).version_range(Version(5)), r(1, 5));
        assert_eq!(fwd(Some(0), 2).version_range(Version(5)), r(1, 2));
        assert_eq!(fwd(Some(4), 10).version_range(Version(5)), r(4, 5));
        assert_eq!(fwd(Some(6), 10).version_range(Version(5)), None);
        assert_eq!(fwd(None, 0).version_range(Version(5)), None);
        assert_eq!(fwd(None, 3).version_range(Version(0)), None);
        assert_eq!(back(None, 2).version_range(Version(5)), r(4, 5));
        assert_eq!(back(Some(3), 10).version_range(Version(5)), r(1, 3));
        assert_eq!(back(Some(99), 1).version_range(Version(5)), r(5, 5));
        assert_eq!(back(Some(0), 1).version_range(Version(5)), None);
    }

    #[test]
    fn retry_resolution() {
        let s = sid("s");
        let id = |x: &str| Some(EventId::new(x).unwrap());
        let at = |stream: &str, v, p| {
            Some(StoredAt { stream: sid(stream), version: Version(v), position: Position(p) })
        };
        let ids = [id("a"), id("b")];
        assert_eq!(resolve_retry(&s, &ids, &[None, None]).unwrap(), None);
        let original = resolve_retry(&s, &ids, &[at("s", 3, 10), at("s", 4, 12)]).unwrap();
        assert_eq!(
            original,
            Some(AppendResult {
                stream: s.clone(),
                first_version: Version(3),
                last_version: Version(4),
                first_position: Position(10),
                last_position: Position(12),
            })
        );
        let mixed = resolve_retry(&s, &ids, &[at("s", 3, 10), None]).unwrap_err();
        assert!(mixed.to_string().contains("mixes"), "{mixed}");
        let other = resolve_retry(&s, &ids, &[at("t", 1, 1), at("t", 2, 2)]).unwrap_err();
        assert!(other.to_string().contains("another stream"), "{other}");
        let order = resolve_retry(&s, &ids, &[at("s", 4, 12), at("s", 3, 10)]).unwrap_err();
        assert!(order.to_string().contains("order"), "{order}");
    }

    #[test]
    fn batch_checks() {
        let e = |id: Option<&str>| NewEvent {
            id: id.map(|x| EventId::new(x).unwrap()),
            event_type: crate::event::EventType::new("T").unwrap(),
            tags: Vec::new(),
            data: (),
            meta: None,
            schema: 1,
        };
        assert!(check_batch::<()>(&[]).is_err());
        assert!(check_batch(&[e(None), e(None)]).is_ok());
        let dup = check_batch(&[e(Some("x")), e(Some("x"))]).unwrap_err();
        assert_eq!(dup.to_string(), "invalid events[1].id: x appears twice in the batch");
    }
}
