//! A [`ServerStore`] over SQL tables: [`SqlServerStore`] holds every storage decision
//! (rows of a push, the compare-and-append, paging under the read budget); a backend
//! implements the six queries of the [`SqlSpace`] trait. The Durable Object backend
//! (`web/do_sql.rs` plus `js/do_sql.js`) runs them on `ctx.storage.sql` (SQLite), each
//! push in one `transactionSync`.
//!
//! ## Schema (one space = one database, e.g. one SQLite-backed Durable Object)
//! ```sql
//! CREATE TABLE events (
//!   position INTEGER PRIMARY KEY,   -- the feed order (SQLite's rowid: feed reads are range scans)
//!   stream   TEXT NOT NULL,         -- the stream id as given
//!   version  INTEGER NOT NULL,      -- the event's version in its stream
//!   id       TEXT NOT NULL UNIQUE,  -- the event id (index: idempotent retries)
//!   event    TEXT NOT NULL,         -- the event as served by reads: JSON
//!   UNIQUE (stream, version)        -- index: stream reads and a stream's version
//! );
//! ```
//! A stream's version is `max(version)` of its rows and the feed head `max(position)`,
//! both one index lookup, so there is no second table to keep in step. The JSON is
//! stored as served (with its stream, version and position), like the key-value layout
//! (`kv/`), so a read returns stored text without assembling it.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::{EventId, Position, StreamId, Version};
use crate::protocol::PushEvent;

use super::store::{AppendOutcome, ReadBudget, ServerEvent, ServerStore};
use super::DEFAULT_MAX_READ_BYTES;

/// How many rows one page query fetches (bounds the memory of a read).
const PAGE: usize = 128;

/// The queries of a space stored in the `events` table of the module docs.
///
/// Single-threaded (futures need not be `Send`). Events are JSON text, stored and
/// returned verbatim.
#[allow(async_fn_in_trait)]
pub trait SqlSpace {
    /// The stream's version: `max(version)` of its rows, 0 without rows.
    async fn stream_version(&self, stream: &str) -> Result<u64>;

    /// The feed head: `max(position)`, 0 without rows.
    async fn feed_head(&self) -> Result<u64>;

    /// The stored JSON of the events with these ids, in the same order (`None` for
    /// unknown ids). Any number of ids (a backend splits them as it needs to).
    async fn events_by_id(&self, ids: &[String]) -> Result<Vec<Option<String>>>;

    /// In one transaction: when the stream's version is `expected`, the feed head is
    /// `head` and none of the ids is stored, inserts `rows` (`(id, json)`) with versions
    /// `expected + 1 ..` and positions `head + 1 ..` and returns `true`; otherwise
    /// inserts nothing and returns `false`.
    async fn append_if(
        &self,
        stream: &str,
        expected: u64,
        head: u64,
        rows: &[(String, String)],
    ) -> Result<bool>;

    /// Up to `limit` (≥ 1) of the stream's events with versions greater than `after`,
    /// ascending.
    async fn stream_events(&self, stream: &str, after: u64, limit: usize) -> Result<Vec<String>>;

    /// Up to `limit` (≥ 1) events with positions greater than `after`, ascending.
    async fn feed_events(&self, after: u64, limit: usize) -> Result<Vec<String>>;
}

/// A [`ServerStore`] over any [`SqlSpace`], with the schema of the module docs.
#[derive(Debug, Default)]
pub struct SqlServerStore<S> {
    sql: S,
    max_read_bytes: usize,
}

fn decode(json: &str) -> Result<ServerEvent> {
    serde_json::from_str(json).map_err(|_| {
        Error::storage("CorruptData", "a stored event is not the JSON of an event".to_string())
    })
}

impl<S: SqlSpace> SqlServerStore<S> {
    /// A store over `sql` with the default read budget.
    pub fn new(sql: S) -> Self {
        SqlServerStore { sql, max_read_bytes: DEFAULT_MAX_READ_BYTES }
    }

    /// Sets the byte budget of one read, as
    /// [`KvServerStore::with_max_read_bytes`](super::KvServerStore::with_max_read_bytes).
    pub fn with_max_read_bytes(mut self, bytes: usize) -> Self {
        self.max_read_bytes = bytes.max(1);
        self
    }

    /// The backend.
    pub fn sql(&self) -> &S {
        &self.sql
    }

    /// Pages through `fetch(after, want)` (rows ascending by `key`) until `limit` events,
    /// the read budget, or an event past `last` (written after the read began).
    async fn read_pages<F, Fut>(
        &self,
        after: u64,
        last: u64,
        limit: usize,
        key: fn(&ServerEvent) -> u64,
        fetch: F,
    ) -> Result<Vec<ServerEvent>>
    where
        F: Fn(u64, usize) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>>>,
    {
        let mut events = Vec::new();
        let mut budget = ReadBudget::new(self.max_read_bytes);
        let mut cursor = after;
        while events.len() < limit {
            let want = PAGE.min(limit - events.len());
            let page = fetch(cursor, want).await?;
            let short = page.len() < want;
            for json in &page {
                let event = decode(json)?;
                if key(&event) > last {
                    return Ok(events);
                }
                cursor = key(&event);
                events.push(event);
                if !budget.spend(json.len()) {
                    return Ok(events);
                }
            }
            if short || page.is_empty() {
                break;
            }
        }
        Ok(events)
    }
}

impl<S: SqlSpace> ServerStore for SqlServerStore<S> {
    async fn stream_version(&self, stream: &StreamId) -> Result<Version> {
        self.sql.stream_version(stream.as_str()).await.map(Version)
    }

    async fn events_by_id(&self, ids: &[EventId]) -> Result<Vec<Option<ServerEvent>>> {
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_string()).collect();
        let found = self.sql.events_by_id(&ids).await?;
        found.iter().map(|json| json.as_deref().map(decode).transpose()).collect()
    }

    async fn append(
        &self,
        stream: &StreamId,
        expected: Version,
        events: &[PushEvent<Value>],
    ) -> Result<AppendOutcome> {
        if events.is_empty() {
            return Ok(AppendOutcome::Appended(Vec::new()));
        }
        let head = Position(self.sql.feed_head().await?);
        let stored = PushEvent::stored_batch(events, stream, expected, head)?;
        let mut rows = Vec::with_capacity(events.len());
        for wire in &stored {
            let json = serde_json::to_string(wire)
                .map_err(|e| Error::storage("SerializeError", e.to_string()))?;
            rows.push((wire.id.as_str().to_string(), json));
        }
        if self.sql.append_if(stream.as_str(), expected.0, head.0, &rows).await? {
            return Ok(AppendOutcome::Appended(stored));
        }
        // Someone else wrote in between: say what moved (the handler decides again).
        let actual = self.stream_version(stream).await?;
        if actual == expected {
            let ids: Vec<String> = rows.into_iter().map(|(id, _)| id).collect();
            let taken = self.sql.events_by_id(&ids).await?;
            if let Some((id, _)) = events.iter().zip(taken).find(|(_, t)| t.is_some()) {
                return Ok(AppendOutcome::IdTaken(id.id.clone()));
            }
        }
        Ok(AppendOutcome::VersionMoved(actual))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: usize,
    ) -> Result<(Version, Vec<ServerEvent>)> {
        let version = self.stream_version(stream).await?;
        if limit == 0 || after >= version {
            return Ok((version, Vec::new()));
        }
        let name = stream.as_str();
        let events = self
            .read_pages(
                after.0,
                version.0,
                limit,
                |e| e.version.0,
                |from, want| self.sql.stream_events(name, from, want),
            )
            .await?;
        Ok((version, events))
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Position, Vec<ServerEvent>)> {
        let head = Position(self.sql.feed_head().await?);
        if limit == 0 || after >= head {
            return Ok((head, Vec::new()));
        }
        let events = self
            .read_pages(
                after.0,
                head.0,
                limit,
                |e| e.position.0,
                |from, want| self.sql.feed_events(from, want),
            )
            .await?;
        Ok((head, events))
    }
}

#[cfg(test)]
mod tests;
