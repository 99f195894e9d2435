//! The server's storage: the [`ServerStore`] trait and [`MemoryServerStore`].
//!
//! The trait is deliberately coarse: one call per decision the handler needs, and one
//! [`ServerStore::append`] that must be **atomic** (a compare-and-set on the stream's
//! version plus an id-uniqueness check, then every write), so an adapter maps it onto
//! exactly one storage transaction. The handler keeps all protocol logic (idempotency,
//! preconditions, validation); a store only stores.
//!
//! ## Durable Objects (one object per space)
//! [`KvServerStore`](super::KvServerStore) (`kv/mod.rs`) implements this trait over an
//! ordered key-value store with the key layout used in Durable Object storage (bounded
//! values, collision-free keys for any stream id, one atomic compare-and-put per
//! `append`); [`SqlServerStore`](super::SqlServerStore) (`sql/mod.rs`) implements it
//! over SQL tables (SQLite-backed Durable Objects). `bindings/server.rs` backs either
//! with `ctx.storage`.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::{EventId, Position, StreamId, Version};
use crate::protocol::{PushEvent, WireEvent};

/// An event as the server stores and serves it (payloads as JSON values).
pub type ServerEvent = WireEvent<Value>;

/// What [`ServerStore::append`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum AppendOutcome {
    /// Written: the stored events, in batch order, with their versions and positions.
    Appended(Vec<ServerEvent>),
    /// Nothing written: the stream was not at the expected version (a concurrent write
    /// won); carries the stream's actual version.
    VersionMoved(Version),
    /// Nothing written: this id is already stored (a concurrent write of the same event).
    IdTaken(EventId),
}

/// Storage of one space (one sync room): its streams and its feed.
///
/// Single-threaded: futures need not be `Send` (Durable Objects, wasm). Every method
/// sees a consistent state; [`ServerStore::append`] is atomic.
#[allow(async_fn_in_trait)]
pub trait ServerStore {
    /// The stream's version: its number of events (0 when it has none).
    async fn stream_version(&self, stream: &StreamId) -> Result<Version>;

    /// The stored events with these ids, in the same order (`None` for unknown ids).
    async fn events_by_id(&self, ids: &[EventId]) -> Result<Vec<Option<ServerEvent>>>;

    /// Atomically: if the stream is at `expected` and none of the ids is stored, stores
    /// the events with versions `expected + 1 ..` and the next feed positions, bumps the
    /// stream's version and the feed head, and returns them; otherwise writes nothing.
    async fn append(
        &self,
        stream: &StreamId,
        expected: Version,
        events: &[PushEvent<Value>],
    ) -> Result<AppendOutcome>;

    /// The stream's current version and up to `limit` of its events with versions
    /// greater than `after`, ascending.
    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: usize,
    ) -> Result<(Version, Vec<ServerEvent>)>;

    /// The feed head (last position, 0 when empty) and up to `limit` events with
    /// positions greater than `after`, ascending.
    async fn read_feed(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Position, Vec<ServerEvent>)>;
}

/// The byte budget of one read: a read stops adding events once their stored JSON
/// reaches it (it always returns at least one event when there is one). See
/// [`KvServerStore::with_max_read_bytes`](super::KvServerStore::with_max_read_bytes).
#[derive(Debug)]
pub(crate) struct ReadBudget {
    left: usize,
}

impl ReadBudget {
    /// A budget of `max_bytes`.
    pub(crate) fn new(max_bytes: usize) -> Self {
        ReadBudget { left: max_bytes }
    }

    /// Spends `bytes` (the event just added); whether the read may add another.
    pub(crate) fn spend(&mut self, bytes: usize) -> bool {
        self.left = self.left.saturating_sub(bytes);
        self.left > 0
    }
}

#[derive(Default, Debug)]
struct Inner {
    /// The feed: `feed[i]` has position `i + 1`.
    feed: Vec<ServerEvent>,
    /// Event id -> index in `feed`.
    by_id: HashMap<EventId, usize>,
    /// Stream -> indexes in `feed`, by version (`[v - 1]`).
    streams: HashMap<StreamId, Vec<usize>>,
    /// When set, every call fails with this error.
    failure: Option<Error>,
}

/// An in-memory [`ServerStore`] (tests, local development). Not shared across threads.
#[derive(Default, Debug)]
pub struct MemoryServerStore {
    inner: RefCell<Inner>,
}

impl MemoryServerStore {
    /// An empty space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with `error` (or work again with `None`): for tests of
    /// the handler's 5xx paths.
    pub fn fail_with(&self, error: Option<Error>) {
        self.inner.borrow_mut().failure = error;
    }

    /// Every stored event in feed order (for tests and inspection).
    pub fn all_events(&self) -> Vec<ServerEvent> {
        self.inner.borrow().feed.clone()
    }

    fn check(&self) -> Result<()> {
        match &self.inner.borrow().failure {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

fn version_of(inner: &Inner, stream: &StreamId) -> Version {
    Version(inner.streams.get(stream).map_or(0, |v| v.len() as u64))
}

impl ServerStore for MemoryServerStore {
    async fn stream_version(&self, stream: &StreamId) -> Result<Version> {
        self.check()?;
        Ok(version_of(&self.inner.borrow(), stream))
    }

    async fn events_by_id(&self, ids: &[EventId]) -> Result<Vec<Option<ServerEvent>>> {
        self.check()?;
        let inner = self.inner.borrow();
        Ok(ids
            .iter()
            .map(|id| inner.by_id.get(id).and_then(|&i| inner.feed.get(i)).cloned())
            .collect())
    }

    async fn append(
        &self,
        stream: &StreamId,
        expected: Version,
        events: &[PushEvent<Value>],
    ) -> Result<AppendOutcome> {
        self.check()?;
        let mut inner = self.inner.borrow_mut();
        let actual = version_of(&inner, stream);
        if actual != expected {
            return Ok(AppendOutcome::VersionMoved(actual));
        }
        if let Some(taken) = events.iter().find(|e| inner.by_id.contains_key(&e.id)) {
            return Ok(AppendOutcome::IdTaken(taken.id.clone()));
        }
        let head = Position(inner.feed.len() as u64);
        let stored = PushEvent::stored_batch(events, stream, expected, head)?;
        for event in &stored {
            let index = inner.feed.len();
            inner.by_id.insert(event.id.clone(), index);
            inner.streams.entry(stream.clone()).or_default().push(index);
            inner.feed.push(event.clone());
        }
        Ok(AppendOutcome::Appended(stored))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: usize,
    ) -> Result<(Version, Vec<ServerEvent>)> {
        self.check()?;
        let inner = self.inner.borrow();
        let indexes = inner.streams.get(stream).map(Vec::as_slice).unwrap_or_default();
        let skip = usize::try_from(after.0).unwrap_or(usize::MAX);
        let events = indexes
            .iter()
            .skip(skip)
            .take(limit)
            .filter_map(|&i| inner.feed.get(i).cloned())
            .collect();
        Ok((Version(indexes.len() as u64), events))
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Position, Vec<ServerEvent>)> {
        self.check()?;
        let inner = self.inner.borrow();
        let skip = usize::try_from(after.0).unwrap_or(usize::MAX);
        let events = inner.feed.iter().skip(skip).take(limit).cloned().collect();
        Ok((Position(inner.feed.len() as u64), events))
    }
}
