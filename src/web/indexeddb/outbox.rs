//! The sync side of [`IndexedDbStore`] ([`SyncLocal`]): every method is one IndexedDB
//! transaction, so a crash leaves either the state before or the state after.
//!
//! Stores (schema 3): `outbox` (key `stream`: attempts, lease, next attempt, last error),
//! `dead_letters` and `conflicts` (auto-increment ids). A stream's synced version is the
//! `syncedVersion` field of its `streams` record; the feed cursor is `meta["feed"]`.
//!
//! Rewriting a stream's pending tail (rebase after remote events, dead-lettering a
//! batch) deletes the pending records and adds them again at new positions, after the
//! remote ones: within a stream, positions always grow with versions. Each such rewrite
//! is a *move*: the transaction bumps the move epoch (`meta["moves"]`) and logs where
//! every rewritten event was and is now, so readers that saw an event at its old place
//! (subscriptions, projections) do not count it twice (`bindings/subscribe.rs`).

use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbKeyRange;

use super::conditions;
use super::query::matching_records;
use super::{IndexedDbStore, EVENTS, HEAD_KEY, META, STREAMS, SYNCED_VERSION};
use crate::error::Result;
use crate::event::{EventId, Position, StreamId, Version};
use crate::outbox::{BatchLimits, Failure, OutboxEntry};
use crate::protocol::{PushEvent, WireEvent};
use crate::sync::{
    plan_integration, ConflictPolicy, FeedCursor, Integrated, IntegrationPlan, PendingBatch,
    PendingCondition, Rechecked, SyncLocal,
};
use crate::web::convert::{
    entry_from_js, entry_to_js, event_record, event_to_js, failure_to_js, js_error, num, push_list,
    record_to_event, record_to_push, string_field,
};
use crate::web::glue;
use crate::web::glue::get;
use crate::web::idb::{request, Transaction};

const OUTBOX: &str = "outbox";
const DEAD_LETTERS: &str = "dead_letters";
const CONFLICTS: &str = "conflicts";
use super::conditions::FEED_KEY;
/// `meta["moves"]`: `{ epoch, log: [{ epoch, stream, id, from: { version, position }, to:
/// { version, position } }] }`, the last [`MOVES_KEPT`] moved events.
pub(super) const MOVES_KEY: &str = "moves";
/// Moved events kept in the log; a reader further behind rebuilds (see `subscribe.rs`).
const MOVES_KEPT: u32 = 1000;

/// Approximate JSON size of a record's payloads (for batching by bytes).
fn payload_size(record: &JsValue) -> usize {
    let size = |key: &str| {
        Reflect::get(record, &key.into())
            .ok()
            .and_then(|v| JSON::stringify(&v).ok())
            .map_or(0, |s| s.length() as usize)
    };
    size("data") + size("meta") + 120
}

/// Field of a `streams` record: approximate JSON bytes of the pending events' payloads.
pub(super) const PENDING_BYTES: &str = "pendingBytes";

/// A head record's `pendingBytes` (0 when absent).
pub(super) fn pending_bytes_field(head: &JsValue) -> f64 {
    get(head, PENDING_BYTES).as_f64().unwrap_or(0.0)
}

/// Payload bytes of stored records, by the append-time measure.
fn record_bytes(records: impl Iterator<Item = JsValue>) -> f64 {
    records
        .map(|r| {
            let data = get(&r, "data");
            let meta = Reflect::get(&r, &"meta".into()).unwrap_or(JsValue::NULL);
            glue::payload_size(&data, &meta)
        })
        .fold(0.0, |a, b| a + b)
}

/// Payload bytes of push events, by the append-time measure.
fn push_bytes(events: &[PushEvent<JsValue>]) -> f64 {
    events
        .iter()
        .map(|e| glue::payload_size(&e.data, e.meta.as_ref().unwrap_or(&JsValue::NULL)))
        .fold(0.0, |a, b| a + b)
}

/// Conflicts and dead letters keep their time as `at` in the database (as 0.1 wrote
/// them); the records handed out name it `name` (`detectedAt`, `failedAt`).
fn rename_at(records: Array, name: &str) -> Result<Array> {
    for record in records.iter() {
        let record: &Object = record.unchecked_ref();
        glue::set(record, name, get(record, "at"));
        Reflect::delete_property(record, &"at".into()).map_err(js_error)?;
    }
    Ok(records)
}

/// What one sync transaction reads first: the stream head and its pending records.
struct Tail {
    version: Version,
    /// The head's `pendingBytes`.
    pending_bytes: f64,
    synced: Version,
    last_position: Position,
    pending: Vec<JsValue>,
}

impl IndexedDbStore {
    /// Integrates `remote` into `stream` inside `tx` (the caller commits); writes
    /// nothing when there is nothing to do or a gap.
    async fn integrate_in(
        &self,
        tx: &Transaction,
        stream: &StreamId,
        remote: Vec<WireEvent<JsValue>>,
        policy: ConflictPolicy,
    ) -> Result<Integrated> {
        let tail = self.read_tail(tx, stream).await?;
        let pending_ids: Vec<EventId> = tail
            .pending
            .iter()
            .map(|r| Ok(EventId::new(string_field(r, "id")?)?))
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<(EventId, Version)> =
            remote.iter().map(|e| (e.id.clone(), e.version)).collect();
        let mut done = Integrated::default();
        match plan_integration(tail.synced, &pending_ids, &keys) {
            IntegrationPlan::Nothing => return Ok(done),
            IntegrationPlan::Gap => {
                done.gap = true;
                return Ok(done);
            }
            IntegrationPlan::Acknowledge { through } => {
                done.acknowledged = (through.0 - tail.synced.0) as usize;
                for id in pending_ids.iter().take(done.acknowledged) {
                    conditions::delete(tx, id)?;
                }
                let still_pending = tail.pending.iter().skip(done.acknowledged);
                Self::put_head(
                    tx,
                    stream,
                    tail.version,
                    through,
                    tail.last_position,
                    record_bytes(still_pending.cloned()),
                )?;
                if through >= tail.version {
                    tx.store(OUTBOX)?.delete(&stream.as_str().into()).map_err(js_error)?;
                }
            }
            IntegrationPlan::Append { first } => {
                let global = Self::global_head(tx).await?;
                let fresh: Vec<_> = remote.into_iter().skip(first).map(PushEvent::from).collect();
                done.inserted = fresh.len();
                let (version, last) = Self::add_events(tx, stream, fresh, tail.version, global)?;
                Self::put_head(tx, stream, version, version, last, 0.0)?;
                Self::put_global_head(tx, last)?;
            }
            IntegrationPlan::Rewrite { first, remaining } => {
                let global = Self::global_head(tx).await?;
                Self::delete_records(tx, &tail.pending)?;
                let fresh: Vec<WireEvent<JsValue>> = remote.into_iter().skip(first).collect();
                done.acknowledged = fresh.iter().filter(|e| pending_ids.contains(&e.id)).count();
                // The conditions of pending events the server now holds are settled.
                for e in fresh.iter().filter(|e| pending_ids.contains(&e.id)) {
                    conditions::delete(tx, &e.id)?;
                }
                done.inserted = fresh.len() - done.acknowledged;
                let conflict_remote = Array::new();
                for e in &fresh {
                    conflict_remote.push(&event_to_js(e)?);
                }
                let (synced, mut last) = Self::add_events(
                    tx,
                    stream,
                    fresh.into_iter().map(PushEvent::from).collect(),
                    tail.synced,
                    global,
                )?;
                let after_remote = (synced, last);
                let left = remaining
                    .iter()
                    .filter_map(|&i| tail.pending.get(i))
                    .map(record_to_push)
                    .collect::<Result<Vec<_>>>()?;
                let mut version = synced;
                let mut bytes = 0.0;
                match policy {
                    ConflictPolicy::Rebase => {
                        done.rebased = left.len();
                        bytes = push_bytes(&left);
                        (version, last) = Self::add_events(tx, stream, left, synced, last)?;
                    }
                    ConflictPolicy::Quarantine | ConflictPolicy::Resolve => {
                        done.quarantined = left.len();
                        for e in &left {
                            conditions::delete(tx, &e.id)?;
                        }
                        if !left.is_empty() {
                            let conflict = Object::new();
                            glue::set(&conflict, "stream", stream.as_str().into());
                            glue::set(&conflict, "local", push_list(&left).into());
                            glue::set(&conflict, "remote", conflict_remote.clone().into());
                            glue::set(&conflict, "at", js_sys::Date::now().into());
                            tx.store(CONFLICTS)?.add(&conflict).map_err(js_error)?;
                        }
                    }
                }
                Self::write_heads(tx, stream, version, synced, last, &tail, bytes)?;
                // Every pending event written again: the acknowledged ones among the
                // remote events, the rebased ones after them.
                let mut moved = Vec::new();
                let (mut v, mut p) = (tail.synced, global);
                for (id, _) in keys.iter().skip(first) {
                    (v, p) = (v.next()?, p.next()?);
                    moved.push((id.clone(), v, p));
                }
                if policy == ConflictPolicy::Rebase {
                    let (mut v, mut p) = after_remote;
                    for i in &remaining {
                        (v, p) = (v.next()?, p.next()?);
                        moved.push((pending_ids[*i].clone(), v, p));
                    }
                }
                Self::log_moves(tx, stream, &tail.pending, &moved).await?;
            }
        }
        Ok(done)
    }

    async fn read_tail(&self, tx: &Transaction, stream: &StreamId) -> Result<Tail> {
        let key = JsValue::from_str(stream.as_str());
        let head = request(tx.store(STREAMS)?.get(&key))?.await?;
        let version = Version(num(&head, "version")?);
        let synced = Version(super::synced_version_field(&head)?.min(version.0));
        let last_position = Position(num(&head, "lastPosition")?);
        let pending = if version > synced {
            let range = IdbKeyRange::bound(
                &Array::of2(&key, &(synced.0 as f64 + 1.0).into()),
                &Array::of2(&key, &version.as_f64().into()),
            )
            .map_err(js_error)?;
            let index = tx.store(EVENTS)?.index(super::BY_STREAM).map_err(js_error)?;
            let records: Array = request(index.get_all_with_key(&range))?.await?.unchecked_into();
            records.iter().collect()
        } else {
            Vec::new()
        };
        Ok(Tail {
            version,
            pending_bytes: pending_bytes_field(&head),
            synced,
            last_position,
            pending,
        })
    }

    /// Writes the stream head after a sync change.
    fn put_head(
        tx: &Transaction,
        stream: &StreamId,
        version: Version,
        synced: Version,
        last_position: Position,
        pending_bytes: f64,
    ) -> Result<()> {
        let head = Object::new();
        let pending_bytes = if version > synced { pending_bytes.max(0.0) } else { 0.0 };
        glue::set(&head, PENDING_BYTES, pending_bytes.into());
        glue::set(&head, "stream", stream.as_str().into());
        glue::set(&head, "version", version.as_f64().into());
        glue::set(&head, "lastPosition", last_position.as_f64().into());
        glue::set(&head, SYNCED_VERSION, synced.as_f64().into());
        tx.store(STREAMS)?.put(&head).map_err(js_error)?;
        Ok(())
    }

    /// After a rewrite of a stream's tail: the stream head, the global head (the log's
    /// last position is `last`), and the outbox entry gone when nothing is pending.
    fn write_heads(
        tx: &Transaction,
        stream: &StreamId,
        version: Version,
        synced: Version,
        last: Position,
        tail: &Tail,
        pending_bytes: f64,
    ) -> Result<()> {
        Self::put_head(tx, stream, version, synced, last.max(tail.last_position), pending_bytes)?;
        Self::put_global_head(tx, last)?;
        if version <= synced {
            tx.store(OUTBOX)?.delete(&stream.as_str().into()).map_err(js_error)?;
        }
        Ok(())
    }

    /// Deletes the pending records of a tail (by position).
    fn delete_records(tx: &Transaction, records: &[JsValue]) -> Result<()> {
        let events = tx.store(EVENTS)?;
        for record in records {
            let position = get(record, "position");
            events.delete(&position).map_err(js_error)?;
        }
        Ok(())
    }

    /// Adds events at the end of the stream and of the log, starting after `version`
    /// and `global`. Returns the new (version, last position).
    fn add_events(
        tx: &Transaction,
        stream: &StreamId,
        events: Vec<PushEvent<JsValue>>,
        mut version: Version,
        mut global: Position,
    ) -> Result<(Version, Position)> {
        let store = tx.store(EVENTS)?;
        let stream_key = JsValue::from_str(stream.as_str());
        for e in events {
            version = version.next()?;
            global = global.next()?;
            let record = event_record(
                &e.id,
                &stream_key,
                version,
                global,
                &e.event_type,
                &e.tags,
                &e.data,
                e.meta.as_ref(),
                &(e.recorded_at as f64).into(),
                e.schema,
            )?;
            store.add(&record).map_err(js_error)?;
        }
        Ok((version, global))
    }

    /// Logs the events of `before` (records at their old places) that `after` (id, new
    /// version, new position) wrote again, under a new move epoch. Nothing moved: nothing
    /// logged.
    async fn log_moves(
        tx: &Transaction,
        stream: &StreamId,
        before: &[JsValue],
        after: &[(EventId, Version, Position)],
    ) -> Result<()> {
        let mut entries = Vec::new();
        for record in before {
            let id = string_field(record, "id")?;
            let Some((_, version, position)) = after.iter().find(|(a, _, _)| a.as_str() == id)
            else {
                continue;
            };
            let from = Object::new();
            glue::set(&from, "version", (num(record, "version")? as f64).into());
            glue::set(&from, "position", (num(record, "position")? as f64).into());
            let to = Object::new();
            glue::set(&to, "version", version.as_f64().into());
            glue::set(&to, "position", position.as_f64().into());
            let entry = Object::new();
            glue::set(&entry, "stream", stream.as_str().into());
            glue::set(&entry, "id", id.into());
            glue::set(&entry, "from", from.into());
            glue::set(&entry, "to", to.into());
            entries.push(entry);
        }
        if entries.is_empty() {
            return Ok(());
        }
        let meta = tx.store(META)?;
        let moves = request(meta.get(&MOVES_KEY.into()))?.await?;
        let (epoch, log) = if moves.is_undefined() {
            (0.0, Array::new())
        } else {
            (num(&moves, "epoch")? as f64, get(&moves, "log").unchecked_into())
        };
        let epoch = epoch + 1.0;
        for entry in entries {
            glue::set(&entry, "epoch", epoch.into());
            log.push(&entry);
        }
        let excess = log.length().saturating_sub(MOVES_KEPT);
        let log = if excess > 0 { log.slice(excess, log.length()) } else { log };
        let record = Object::new();
        glue::set(&record, "epoch", epoch.into());
        glue::set(&record, "log", log.into());
        meta.put_with_key(&record, &MOVES_KEY.into()).map_err(js_error)?;
        Ok(())
    }

    /// Takes the pending events `ids` out of `stream` inside `tx` (a move: later pending
    /// events move down to close the gap; the outbox entry goes when nothing is left);
    /// returns them in version order.
    async fn take_pending(
        &self,
        tx: &Transaction,
        stream: &StreamId,
        ids: &[EventId],
    ) -> Result<Vec<PushEvent<JsValue>>> {
        let tail = self.read_tail(tx, stream).await?;
        let global = Self::global_head(tx).await?;
        Self::delete_records(tx, &tail.pending)?;
        let mut taken = Vec::new();
        let mut keep = Vec::new();
        for record in &tail.pending {
            let event = record_to_push(record)?;
            if ids.contains(&event.id) {
                taken.push(event);
            } else {
                keep.push(event);
            }
        }
        let bytes = push_bytes(&keep);
        let (mut v, mut p) = (tail.synced, global);
        let mut moved = Vec::new();
        for e in &keep {
            (v, p) = (v.next()?, p.next()?);
            moved.push((e.id.clone(), v, p));
        }
        Self::log_moves(tx, stream, &tail.pending, &moved).await?;
        let (version, last) = Self::add_events(tx, stream, keep, tail.synced, global)?;
        Self::write_heads(tx, stream, version, tail.synced, last, &tail, bytes)?;
        Ok(taken)
    }

    async fn global_head(tx: &Transaction) -> Result<Position> {
        Ok(Position(num(&request(tx.store(META)?.get(&HEAD_KEY.into()))?.await?, "position")?))
    }

    fn put_global_head(tx: &Transaction, position: Position) -> Result<()> {
        let record = Object::new();
        glue::set(&record, "position", position.as_f64().into());
        tx.store(META)?.put_with_key(&record, &HEAD_KEY.into()).map_err(js_error)?;
        Ok(())
    }

    /// The dead letters: `[{ id, stream, events, failure: { status, message }, failedAt }]`.
    pub async fn dead_letter_records(&self) -> Result<Array> {
        let tx = self.begin(&[DEAD_LETTERS], false)?;
        let records = request(tx.store(DEAD_LETTERS)?.get_all())?.await?.unchecked_into();
        rename_at(records, "failedAt")
    }

    /// The quarantined conflicts: `[{ id, stream, local, remote, detectedAt }]`.
    pub async fn conflict_records(&self) -> Result<Array> {
        let tx = self.begin(&[CONFLICTS], false)?;
        let records = request(tx.store(CONFLICTS)?.get_all())?.await?.unchecked_into();
        rename_at(records, "detectedAt")
    }

    /// The outbox entries of streams with pending events, with their pending counts and
    /// the recording time of their oldest pending event:
    /// `[{ stream, pendingCount, pendingBytes, oldestPendingAt, attempts, nextAttemptAt,
    /// leaseUntil, lastError }]`.
    pub async fn outbox_records(&self) -> Result<Array> {
        let tx = self.begin(&[STREAMS, OUTBOX, EVENTS], false)?;
        let heads = request(tx.store(STREAMS)?.get_all())?;
        let entries = request(tx.store(OUTBOX)?.get_all())?;
        let (heads, entries): (Array, Array) =
            (heads.await?.unchecked_into(), entries.await?.unchecked_into());
        let by_stream = tx.store(EVENTS)?.index(super::BY_STREAM).map_err(js_error)?;
        let mut pending_streams = Vec::new();
        for head in heads.iter() {
            let synced = super::synced_version_field(&head)?;
            let pending = num(&head, "version")?.saturating_sub(synced);
            if pending == 0 {
                continue;
            }
            let stream = string_field(&head, "stream")?;
            // The oldest pending event of the stream, read alongside the others.
            let key = Array::of2(&stream.as_str().into(), &((synced + 1) as f64).into());
            let oldest = request(by_stream.get(&key))?;
            pending_streams.push((stream, pending, pending_bytes_field(&head), oldest));
        }
        let out = Array::new();
        for (stream, pending, bytes, oldest) in pending_streams {
            let entry = entries
                .iter()
                .find(|e| get(e, "stream").as_string().as_deref() == Some(stream.as_str()));
            let record = match entry {
                Some(e) => e,
                None => entry_to_js(&OutboxEntry::new(StreamId::new(stream.clone())?)),
            };
            glue::set(&record, "pendingCount", (pending as f64).into());
            glue::set(&record, PENDING_BYTES, bytes.into());
            let oldest = oldest.await?;
            let recorded_at = Reflect::get(&oldest, &"recordedAt".into()).unwrap_or(JsValue::NULL);
            glue::set(&record, "oldestPendingAt", recorded_at);
            out.push(&record);
        }
        Ok(out)
    }

    /// Whether the event `id` is stored and acknowledged by the server.
    pub async fn is_acknowledged(&self, id: &EventId) -> Result<bool> {
        let tx = self.begin(&[EVENTS, STREAMS], false)?;
        let index = tx.store(EVENTS)?.index(super::BY_ID).map_err(js_error)?;
        let record = request(index.get(&id.as_str().into()))?.await?;
        if record.is_undefined() {
            return Ok(false);
        }
        let head = request(tx.store(STREAMS)?.get(&get(&record, "stream")))?.await?;
        Ok(super::synced_version_field(&head)? >= num(&record, "version")?)
    }

    /// Appends a dead letter's events again (same ids) as pending; removes the letter.
    pub async fn retry_dead_letter(&self, id: f64) -> Result<bool> {
        self.reinsert(DEAD_LETTERS, id, "events", None).await
    }

    /// Drops a dead letter for good.
    pub async fn discard_dead_letter(&self, id: f64) -> Result<bool> {
        self.remove_record(DEAD_LETTERS, id).await
    }

    /// Settles a quarantined conflict with `events` (`None`: the local events as they
    /// were), appended as pending after the stream's events; removes the conflict.
    pub async fn settle_conflict(
        &self,
        id: f64,
        events: Option<Vec<PushEvent<JsValue>>>,
    ) -> Result<bool> {
        self.reinsert(CONFLICTS, id, "local", events).await
    }

    /// Drops a quarantined conflict's local events for good.
    pub async fn discard_conflict(&self, id: f64) -> Result<bool> {
        self.remove_record(CONFLICTS, id).await
    }

    async fn remove_record(&self, store: &str, id: f64) -> Result<bool> {
        let tx = self.begin(&[store], true)?;
        let found = request(tx.store(store)?.get(&id.into()))?.await?;
        if found.is_undefined() {
            tx.abort();
            return Ok(false);
        }
        tx.store(store)?.delete(&id.into()).map_err(js_error)?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reinsert(
        &self,
        store: &str,
        id: f64,
        field: &str,
        replacement: Option<Vec<PushEvent<JsValue>>>,
    ) -> Result<bool> {
        let tx = self.begin(&[store, EVENTS, STREAMS, META, OUTBOX], true)?;
        let found = request(tx.store(store)?.get(&id.into()))?.await?;
        if found.is_undefined() {
            tx.abort();
            return Ok(false);
        }
        let stream = StreamId::new(string_field(&found, "stream")?)?;
        let events = match replacement {
            Some(events) => events,
            None => {
                let list: Array = get(&found, field).unchecked_into();
                list.iter().map(|r| record_to_push(&r)).collect::<Result<Vec<_>>>()?
            }
        };
        let tail = self.read_tail(&tx, &stream).await?;
        let global = Self::global_head(&tx).await?;
        let added = push_bytes(&events);
        let (version, last) = Self::add_events(&tx, &stream, events, tail.version, global)?;
        Self::write_heads(
            &tx,
            &stream,
            version,
            tail.synced,
            last,
            &tail,
            tail.pending_bytes + added,
        )?;
        tx.store(store)?.delete(&id.into()).map_err(js_error)?;
        tx.commit().await?;
        Ok(true)
    }
}

impl SyncLocal for IndexedDbStore {
    type Payload = JsValue;

    async fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        // By next attempt, in the records' order where equal: each entry goes after those
        // due no later (a few streams: no sort routine for so few).
        let mut entries: Vec<(u64, OutboxEntry)> = Vec::new();
        for r in self.outbox_records().await?.iter() {
            let at = num(&r, "nextAttemptAt")?;
            let entry = entry_from_js(StreamId::new(string_field(&r, "stream")?)?, &r);
            entries.insert(entries.partition_point(|(t, _)| *t <= at), (at, entry));
        }
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    }

    async fn save_outbox_entry(&self, entry: &OutboxEntry) -> Result<()> {
        let tx = self.begin(&[OUTBOX], true)?;
        tx.store(OUTBOX)?.put(&entry_to_js(entry)).map_err(js_error)?;
        tx.commit().await
    }

    async fn pending_batch(
        &self,
        stream: &StreamId,
        limits: BatchLimits,
    ) -> Result<Option<PendingBatch<JsValue>>> {
        let tx = self.begin(&[EVENTS, STREAMS, META], false)?;
        let tail = self.read_tail(&tx, stream).await?;
        let n = limits.take(tail.pending.iter().map(payload_size));
        if n == 0 {
            return Ok(None);
        }
        let events = tail.pending.iter().take(n).map(record_to_push).collect::<Result<Vec<_>>>()?;
        let conditions = PendingCondition::for_batch(&conditions::load_all(&tx).await?, &events);
        Ok(Some(PendingBatch {
            stream: stream.clone(),
            base_version: tail.synced,
            events,
            conditions,
        }))
    }

    async fn acknowledge(&self, stream: &StreamId, version: Version) -> Result<()> {
        let tx = self.begin(&[STREAMS, OUTBOX, EVENTS, META], true)?;
        let key = JsValue::from_str(stream.as_str());
        let head = request(tx.store(STREAMS)?.get(&key))?.await?;
        let local = Version(num(&head, "version")?);
        let synced = Version(super::synced_version_field(&head)?);
        let through = version.min(local).max(synced);
        // Subtract exactly what the acknowledged events added at append time; their
        // conditions are the server's business now.
        let mut bytes = pending_bytes_field(&head);
        if through > synced {
            let range = IdbKeyRange::bound(
                &Array::of2(&key, &(synced.0 as f64 + 1.0).into()),
                &Array::of2(&key, &through.as_f64().into()),
            )
            .map_err(js_error)?;
            let index = tx.store(EVENTS)?.index(super::BY_STREAM).map_err(js_error)?;
            let acked: Array = request(index.get_all_with_key(&range))?.await?.unchecked_into();
            for record in acked.iter() {
                conditions::delete(&tx, &EventId::new(string_field(&record, "id")?)?)?;
            }
            if through < local {
                bytes -= record_bytes(acked.iter());
            }
        }
        Self::put_head(&tx, stream, local, through, Position(num(&head, "lastPosition")?), bytes)?;
        if through >= local {
            tx.store(OUTBOX)?.delete(&key).map_err(js_error)?;
        }
        tx.commit().await
    }

    async fn integrate(
        &self,
        stream: &StreamId,
        remote: Vec<WireEvent<JsValue>>,
        policy: ConflictPolicy,
    ) -> Result<Integrated> {
        let tx = self.begin(&[EVENTS, STREAMS, META, OUTBOX, CONFLICTS], true)?;
        let done = self.integrate_in(&tx, stream, remote, policy).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn integrate_page(
        &self,
        page: Vec<(StreamId, Vec<WireEvent<JsValue>>)>,
        policy: ConflictPolicy,
    ) -> Result<Vec<Integrated>> {
        // One transaction for the whole page: a first sync writes in large transactions.
        let tx = self.begin(&[EVENTS, STREAMS, META, OUTBOX, CONFLICTS], true)?;
        let mut out = Vec::with_capacity(page.len());
        for (stream, remote) in page {
            out.push(self.integrate_in(&tx, &stream, remote, policy).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn dead_letter(
        &self,
        stream: &StreamId,
        ids: &[EventId],
        failure: Failure,
    ) -> Result<()> {
        let tx = self.begin(&[EVENTS, STREAMS, META, OUTBOX, DEAD_LETTERS], true)?;
        let dead = self.take_pending(&tx, stream, ids).await?;
        if !dead.is_empty() {
            let letter = Object::new();
            glue::set(&letter, "stream", stream.as_str().into());
            glue::set(&letter, "events", push_list(&dead).into());
            glue::set(&letter, "failure", failure_to_js(&failure));
            glue::set(&letter, "at", js_sys::Date::now().into());
            tx.store(DEAD_LETTERS)?.add(&letter).map_err(js_error)?;
        }
        tx.commit().await
    }

    async fn recheck_condition(
        &self,
        stream: &StreamId,
        anchor: &EventId,
        matched: &EventId,
        policy: ConflictPolicy,
    ) -> Result<Rechecked> {
        let tx = self.begin(&[EVENTS, STREAMS, META, OUTBOX, CONFLICTS], true)?;
        let Some(mut condition) = conditions::load(&tx, anchor).await? else {
            return Ok(Rechecked::Gone);
        };
        let query = &condition.local.fail_if_events_match;
        let matching = matching_records(&tx, query, Position(1), false).await?;
        let mut ids = Vec::with_capacity(matching.len());
        let mut unseen = Vec::new();
        for record in matching {
            let id = EventId::new(string_field(&record, "id")?)?;
            if !condition.saw(&id) {
                unseen.push(record);
            }
            ids.push(id);
        }
        if policy == ConflictPolicy::Rebase && condition.holds_after_refusal(ids.iter(), matched) {
            condition.refresh(ids, conditions::pulled_through(&tx).await?);
            conditions::save(&tx, &condition)?;
            tx.commit().await?;
            return Ok(Rechecked::Holds);
        }
        let taken = self.take_pending(&tx, stream, &condition.events).await?;
        if taken.is_empty() {
            // No longer pending (settled meanwhile): nothing to set aside, nothing moved.
            tx.abort();
            return Ok(Rechecked::Gone);
        }
        conditions::delete(&tx, anchor)?;
        let remote = Array::new();
        for record in &unseen {
            remote.push(&event_to_js(&record_to_event(record)?)?);
        }
        let conflict = Object::new();
        glue::set(&conflict, "stream", stream.as_str().into());
        glue::set(&conflict, "local", push_list(&taken).into());
        glue::set(&conflict, "remote", remote.into());
        glue::set(&conflict, "condition", conditions::condition_to_js(&condition.local));
        glue::set(&conflict, "at", js_sys::Date::now().into());
        tx.store(CONFLICTS)?.add(&conflict).map_err(js_error)?;
        tx.commit().await?;
        Ok(Rechecked::Conflicted(taken.len()))
    }

    async fn synced_version(&self, stream: &StreamId) -> Result<Version> {
        let tx = self.begin(&[STREAMS], false)?;
        let head = request(tx.store(STREAMS)?.get(&stream.as_str().into()))?.await?;
        Ok(Version(super::synced_version_field(&head)?))
    }

    async fn feed_cursor(&self) -> Result<FeedCursor> {
        let tx = self.begin(&[META], false)?;
        let cursor = request(tx.store(META)?.get(&FEED_KEY.into()))?.await?;
        // `lanes` is the partial-sync cursor; a store written before it has only the
        // whole feed's `position`.
        match get(&cursor, "lanes").as_string() {
            Some(lanes) => FeedCursor::decode(&lanes),
            None => Ok(FeedCursor::whole(Position(num(&cursor, "position")?))),
        }
    }

    async fn set_feed_cursor(&self, cursor: &FeedCursor) -> Result<()> {
        let tx = self.begin(&[META], true)?;
        let record = Object::new();
        let position = cursor.lanes.iter().map(|l| l.position).min().unwrap_or_default();
        glue::set(&record, "position", position.as_f64().into());
        glue::set(&record, "lanes", cursor.encode().into());
        tx.store(META)?.put_with_key(&record, &FEED_KEY.into()).map_err(js_error)?;
        tx.commit().await
    }
}
