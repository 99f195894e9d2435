//! A [`ServerStore`] over an ordered key-value store: [`KvServerStore`] holds the key
//! layout and every storage decision; a backend implements the three primitive calls of
//! the [`Kv`] trait. The Durable Object backend (`web/do_storage.rs` plus
//! `js/do_storage.js`) maps them onto `state.storage` in a few lines, so the
//! whole layout is built and tested natively here, against [`MemoryKv`].
//!
//! ## Layout (one space = one key space, e.g. one Durable Object)
//! | key | value |
//! |---|---|
//! | `h` | the feed head: the last position, decimal |
//! | `s:{stream key}` | the stream's version, decimal (absent = 0) |
//! | `e:{position, 16 digits}` | the event as served by reads: UTF-8 JSON bytes |
//! | `v:{stream key}:{version, 16 digits}` | the event's position, decimal |
//! | `i:{event id}` | the event's position, decimal |
//!
//! - `{stream key}` is the stream id's UTF-8 bytes with every byte outside
//!   `A-Za-z0-9-._~` written as `%XX`: it never contains `:` (nor `%` unescaped), so
//!   `v:{stream key}:` is a prefix of exactly one stream's keys whatever characters the
//!   id holds (`a:b`, `a/b`, `%3A`, `..`, emoji), and no stream key is another's prefix
//!   followed by `:`. At most 768 bytes, well under Durable Objects' 2 KiB key limit.
//! - `i:{event id}` puts the id last, verbatim: the key is `i:` plus exactly the id, so
//!   two ids never share a key (ids are at most 128 bytes).
//! - Positions and versions are zero-padded to 16 digits (2^53 − 1 has 16), so the
//!   lexicographic order of `list()` is numeric order.
//! - Values are **bytes**, never JS strings: a JS string holding one character outside
//!   Latin-1 is stored as UTF-16 (two bytes per character), which could double an
//!   event's size past the 128 KiB value limit of Durable Object storage. The handler
//!   bounds an event's UTF-8 JSON at [`Config::max_event_bytes`](super::Config)
//!   (100 KiB), and the bytes stored are exactly those.
//!
//! [`KvServerStore::append`](ServerStore::append) is one [`Kv::put_if`]: a
//! compare-and-set on the stream version, the feed head and the absence of every id, then
//! all the batch's keys (3 per event + `s:` + `h`), applied atomically or not at all.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::{EventId, Position, StreamId, Version};
use crate::protocol::PushEvent;

use super::store::{AppendOutcome, ReadBudget, ServerEvent, ServerStore};

/// Most keys one `get` call asks for (Durable Object storage takes at most 128).
pub const MAX_KEYS_PER_CALL: usize = 128;

/// The primitive operations of an ordered key-value store with byte values.
///
/// Single-threaded (futures need not be `Send`). Keys are compared as strings (UTF-16
/// code units in JS, which orders the ASCII keys of this layout like bytes).
#[allow(async_fn_in_trait)]
pub trait Kv {
    /// The values of `keys` in the same order (`None` for absent keys). Callers pass at
    /// most [`MAX_KEYS_PER_CALL`] keys.
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Up to `limit` (≥ 1) entries whose key starts with `prefix` and is `>= start`, by
    /// ascending key.
    async fn list(&self, prefix: &str, start: &str, limit: usize)
        -> Result<Vec<(String, Vec<u8>)>>;

    /// Atomically: when every key of `expect` holds exactly the given value (`None` =
    /// absent), writes every entry of `put` and returns `true`; otherwise writes nothing
    /// and returns `false`. Any number of keys (a backend splits them into calls inside
    /// one transaction as it needs to).
    async fn put_if(
        &self,
        expect: &[(String, Option<Vec<u8>>)],
        put: &[(String, Vec<u8>)],
    ) -> Result<bool>;
}

/// An in-memory [`Kv`] (a sorted map): for native tests of the layout and local tools.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: std::cell::RefCell<std::collections::BTreeMap<String, Vec<u8>>>,
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, by key (for tests and inspection).
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        self.map.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Kv for MemoryKv {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let map = self.map.borrow();
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn list(
        &self,
        prefix: &str,
        start: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let map = self.map.borrow();
        let from = if start > prefix { start } else { prefix };
        Ok(map
            .range(from.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn put_if(
        &self,
        expect: &[(String, Option<Vec<u8>>)],
        put: &[(String, Vec<u8>)],
    ) -> Result<bool> {
        let mut map = self.map.borrow_mut();
        if expect.iter().any(|(k, v)| map.get(k) != v.as_ref()) {
            return Ok(false);
        }
        for (k, v) in put {
            map.insert(k.clone(), v.clone());
        }
        Ok(true)
    }
}

/// A [`ServerStore`] over any [`Kv`], with the layout described in the module docs.
#[derive(Debug, Default)]
pub struct KvServerStore<K> {
    kv: K,
    max_read_bytes: usize,
}

/// The default byte budget of one read: see [`KvServerStore::with_max_read_bytes`].
pub const DEFAULT_MAX_READ_BYTES: usize = 4 * 1024 * 1024;

const HEAD_KEY: &str = "h";
const EVENT_PREFIX: &str = "e:";
/// How many entries one `list` page fetches (bounds the memory of a read).
const LIST_PAGE: usize = 128;

fn stream_key(stream: &StreamId) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(stream.as_str().len() * 3);
    for &byte in stream.as_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

fn padded(n: u64) -> String {
    format!("{n:016}")
}

fn version_key(stream: &StreamId) -> String {
    format!("s:{}", stream_key(stream))
}

fn stream_event_prefix(stream: &StreamId) -> String {
    format!("v:{}:", stream_key(stream))
}

fn event_key(position: Position) -> String {
    format!("{EVENT_PREFIX}{}", padded(position.0))
}

fn id_key(id: &EventId) -> String {
    format!("i:{}", id.as_str())
}

fn corrupt(what: &str, key: &str) -> Error {
    Error::storage("CorruptData", format!("{what} under the key {key:?} is not readable"))
}

fn number(bytes: &[u8], key: &str) -> Result<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| corrupt("the number", key))
}

fn number_bytes(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}

fn decode_event(bytes: &[u8], key: &str) -> Result<ServerEvent> {
    serde_json::from_slice(bytes).map_err(|_| corrupt("the event", key))
}

impl<K: Kv> KvServerStore<K> {
    /// A store over `kv` with the default read budget.
    pub fn new(kv: K) -> Self {
        KvServerStore { kv, max_read_bytes: DEFAULT_MAX_READ_BYTES }
    }

    /// Sets the byte budget of one read: a read stops adding events once their stored
    /// JSON passes this many bytes (it always returns at least one event when there is
    /// one). The protocol lets a server return fewer events than `limit`; clients page
    /// until they reach the `version`/`head` the answer reports. This keeps a read of
    /// 1000 large events from holding 100 MB in a worker's 128 MB.
    pub fn with_max_read_bytes(mut self, bytes: usize) -> Self {
        self.max_read_bytes = bytes.max(1);
        self
    }

    /// The backend.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    async fn get_one(&self, key: String) -> Result<Option<Vec<u8>>> {
        Ok(self.kv.get(std::slice::from_ref(&key)).await?.into_iter().next().flatten())
    }

    async fn get_number(&self, key: String) -> Result<u64> {
        match self.get_one(key.clone()).await? {
            Some(bytes) => number(&bytes, &key),
            None => Ok(0),
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_KEYS_PER_CALL) {
            out.extend(self.kv.get(chunk).await?);
        }
        Ok(out)
    }

    /// The events at these positions (all must exist), with their stored sizes.
    async fn events_at(&self, positions: &[u64]) -> Result<Vec<(ServerEvent, usize)>> {
        let mut events = Vec::with_capacity(positions.len());
        for chunk in positions.chunks(MAX_KEYS_PER_CALL) {
            let keys: Vec<String> = chunk.iter().map(|&p| event_key(Position(p))).collect();
            for (key, value) in keys.iter().zip(self.kv.get(&keys).await?) {
                let value = value.ok_or_else(|| corrupt("the event", key))?;
                events.push((decode_event(&value, key)?, value.len()));
            }
        }
        Ok(events)
    }
}

/// The key after `key` in a list of `{prefix}{16 digits}` keys.
fn next_key(prefix: &str, key: &str) -> Result<String> {
    let n = key
        .strip_prefix(prefix)
        .map_or(Err(corrupt("the key", key)), |n| number(n.as_bytes(), key))?;
    Ok(format!("{prefix}{}", padded(n.saturating_add(1))))
}

impl<K: Kv> ServerStore for KvServerStore<K> {
    async fn stream_version(&self, stream: &StreamId) -> Result<Version> {
        self.get_number(version_key(stream)).await.map(Version)
    }

    async fn events_by_id(&self, ids: &[EventId]) -> Result<Vec<Option<ServerEvent>>> {
        let keys: Vec<String> = ids.iter().map(id_key).collect();
        let positions = self.get_many(&keys).await?;
        let mut found = Vec::new();
        for (key, value) in keys.iter().zip(&positions) {
            if let Some(bytes) = value {
                found.push(number(bytes, key)?);
            }
        }
        let mut events = self.events_at(&found).await?.into_iter().map(|(e, _)| e);
        Ok(positions.iter().map(|p| p.as_ref().and_then(|_| events.next())).collect())
    }

    async fn append(
        &self,
        stream: &StreamId,
        expected: Version,
        events: &[PushEvent<Value>],
    ) -> Result<AppendOutcome> {
        let head = Position(self.get_number(HEAD_KEY.to_string()).await?);
        let stored = PushEvent::stored_batch(events, stream, expected, head)?;
        let mut put = Vec::with_capacity(events.len() * 3 + 2);
        let mut expect = Vec::with_capacity(events.len() + 2);
        let prefix = stream_event_prefix(stream);
        for wire in &stored {
            let json = serde_json::to_vec(wire)
                .map_err(|e| Error::storage("SerializeError", e.to_string()))?;
            let position = number_bytes(wire.position.0);
            put.push((event_key(wire.position), json));
            put.push((format!("{prefix}{}", padded(wire.version.0)), position.clone()));
            put.push((id_key(&wire.id), position));
            expect.push((id_key(&wire.id), None));
        }
        let (Some(last), Some(last_version)) =
            (stored.last().map(|e| e.position), stored.last().map(|e| e.version))
        else {
            return Ok(AppendOutcome::Appended(stored));
        };
        let version_key = version_key(stream);
        put.push((version_key.clone(), number_bytes(last_version.0)));
        put.push((HEAD_KEY.to_string(), number_bytes(last.0)));
        expect.push((version_key, (expected.0 > 0).then(|| number_bytes(expected.0))));
        expect.push((HEAD_KEY.to_string(), (head.0 > 0).then(|| number_bytes(head.0))));
        if self.kv.put_if(&expect, &put).await? {
            return Ok(AppendOutcome::Appended(stored));
        }
        // Someone else wrote in between: say what moved (the handler decides again).
        let actual = self.stream_version(stream).await?;
        if actual == expected {
            let ids: Vec<EventId> = events.iter().map(|e| e.id.clone()).collect();
            let taken = self.get_many(&ids.iter().map(id_key).collect::<Vec<_>>()).await?;
            if let Some((id, _)) = ids.iter().zip(taken).find(|(_, v)| v.is_some()) {
                return Ok(AppendOutcome::IdTaken(id.clone()));
            }
        }
        // The version moved, or only the feed head did: either way the batch was not
        // written and deciding again is right.
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
        let prefix = stream_event_prefix(stream);
        let mut start = format!("{prefix}{}", padded(after.0.saturating_add(1)));
        let mut events = Vec::new();
        let mut budget = ReadBudget::new(self.max_read_bytes);
        while events.len() < limit {
            let want = LIST_PAGE.min(limit - events.len());
            let page = self.kv.list(&prefix, &start, want).await?;
            let Some((last_key, _)) = page.last() else {
                break;
            };
            start = next_key(&prefix, last_key)?;
            let short = page.len() < want;
            let mut positions = Vec::with_capacity(page.len());
            for (key, value) in &page {
                positions.push(number(value, key)?);
            }
            for (event, size) in self.events_at(&positions).await? {
                if event.version > version {
                    return Ok((version, events));
                }
                events.push(event);
                if !budget.spend(size) {
                    return Ok((version, events));
                }
            }
            if short {
                break;
            }
        }
        Ok((version, events))
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Position, Vec<ServerEvent>)> {
        let head = Position(self.get_number(HEAD_KEY.to_string()).await?);
        if limit == 0 || after >= head {
            return Ok((head, Vec::new()));
        }
        let mut start = event_key(Position(after.0.saturating_add(1)));
        let mut events = Vec::new();
        let mut budget = ReadBudget::new(self.max_read_bytes);
        while events.len() < limit {
            let want = LIST_PAGE.min(limit - events.len());
            let page = self.kv.list(EVENT_PREFIX, &start, want).await?;
            let Some((last_key, _)) = page.last() else {
                break;
            };
            start = next_key(EVENT_PREFIX, last_key)?;
            let short = page.len() < want;
            for (key, value) in &page {
                let event = decode_event(value, key)?;
                if event.position > head {
                    return Ok((head, events));
                }
                events.push(event);
                if !budget.spend(value.len()) {
                    return Ok((head, events));
                }
            }
            if short {
                break;
            }
        }
        Ok((head, events))
    }
}

#[cfg(test)]
pub(crate) mod tests;
