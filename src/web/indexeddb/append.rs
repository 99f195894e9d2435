//! Appending: one readwrite transaction per batch over `events`, `streams` and `meta`.
//! Read the stream head and the log head, check the expected version, add every record
//! (built and added by one JS call, `addRecords`), write both heads, wait for `complete`.
//! The requests are made by `js/idb.js` (a few JS calls, each awaited once, cost
//! far fewer bytes than a Rust future per request); the rules are decided here.
//! Idempotency costs nothing on the happy path: the unique `by_id` index refuses a stored
//! id, the transaction aborts with `ConstraintError`, and only then are the ids looked up
//! to return the original result. A conditional append saves its condition (what the
//! decision knew, for the server's check at sync) in the same transaction.

use js_sys::{Array, Object, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::IdbObjectStore;

use super::conditions;
use super::query::matching_records;
use super::{outbox, IndexedDbStore, JsBatch, EVENTS, META, STREAMS};
use crate::env::{fill_random, Environment};
use crate::error::{Error, Result};
use crate::event::{AppendResult, EventId, ExpectedVersion, NewEvent, Position, StreamId, Version};
use crate::query::AppendCondition;
use crate::store::{check_batch, check_batch_ids, resolve_retry, StoredAt};
use crate::sync::PendingCondition;
use crate::web::convert::{
    js_error, record_head, set, string_field, synced_version_field, tags_to_js, version_field,
};
use crate::web::glue;

impl IndexedDbStore {
    /// Appends JS-valued events (the [`EventStore::append`] path for Rust callers);
    /// `bytes` is the caller's payload size estimate (for metrics and the outbox).
    pub async fn append_events(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        events: Vec<NewEvent<JsValue>>,
        bytes: u64,
    ) -> Result<AppendResult> {
        check_batch(&events)?;
        let list = Array::new();
        let mut ids = Vec::with_capacity(events.len());
        for event in events {
            let js = Object::new();
            set(&js, "type", &event.event_type.as_str().into())?;
            set(&js, "tags", &tags_to_js(&event.tags))?;
            set(&js, "data", &event.data)?;
            set(&js, "meta", event.meta.as_ref().unwrap_or(&JsValue::NULL))?;
            set(&js, "schema", &event.schema.into())?;
            list.push(&js);
            ids.push(event.id);
        }
        self.append_batch(stream, expected, condition, JsBatch { events: list, ids }, bytes).await
    }

    /// Appends a checked batch in one readwrite transaction: reads the stream head and
    /// the log head, checks the expected version, adds every record (built and added by
    /// one JS call, `addRecords`), writes both heads. All or nothing. A `condition` is
    /// checked in the same transaction, after the expected version: IndexedDB serializes
    /// overlapping readwrite transactions, so of two racing appends whose conditions
    /// match each other's events, exactly one wins.
    pub async fn append_batch(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        batch: JsBatch,
        bytes: u64,
    ) -> Result<AppendResult> {
        let JsBatch { events, ids } = batch;
        check_batch_ids(&mut ids.iter().map(Option::as_ref), ids.len())?;
        if events.length() as usize != ids.len() {
            return Err(Error::invalid("events", "the batch and its ids differ in length"));
        }
        let tx = self.begin(&[EVENTS, STREAMS, META], true)?;
        let (events_store, streams_store, meta_store) =
            (tx.store(EVENTS)?, tx.store(STREAMS)?, tx.store(META)?);
        let stream_key = JsValue::from_str(stream.as_str());
        // The stream head, the log head and (conditional appends) the feed cursor: one
        // JS call, one await.
        let heads =
            glue::append_heads(&streams_store, &meta_store, &stream_key, condition.is_some());
        let heads: Array = JsFuture::from(heads).await.map_err(js_error)?.unchecked_into();
        let head_record = heads.get(0);
        let head = Version(version_field(&head_record, "version")?);
        // The synced prefix is kept as it is: the new events are pending (in the outbox)
        // by being past it, written in this same transaction.
        let synced = synced_version_field(&head_record)?;
        let pending_bytes = outbox::pending_bytes_field(&head_record);
        let global = Position(version_field(&heads.get(1), "position")?);

        // A refusal: the expected version, else the condition. Its matches are read in
        // this transaction, in one walk from the start of the log: one at or after the
        // condition's first position refuses the append; otherwise they are all before
        // it, and are what the decision knew, kept with the pending events for the
        // server's check at sync (see `crate::sync::PendingCondition`).
        let mut pending_condition = None;
        let refusal = if !expected.accepts(head) {
            Some(Error::VersionConflict { stream: stream.clone(), expected, actual: head })
        } else if let Some(condition) = condition {
            let seen =
                matching_records(&tx, &condition.fail_if_events_match, Position(1), false).await?;
            match condition_check(stream, condition, &seen)? {
                Ok(known) => {
                    pending_condition = Some(PendingCondition {
                        local: condition.clone(),
                        events: Vec::new(),
                        server_after: Position(version_field(&heads.get(2), "position")?),
                        known,
                    });
                    None
                }
                Err(violation) => Some(violation),
            }
        } else {
            None
        };
        if let Some(error) = refusal {
            // A retry of a stored batch answers with the original result, even though
            // the stream has moved on (or its own events match the condition).
            if ids.iter().any(Option::is_some) {
                let found = JsFuture::from(lookup(&events_store, &ids)).await.map_err(js_error)?;
                if let Some(original) = resolve_retry(stream, &ids, &stored_at(&found)?)? {
                    tx.abort();
                    self.metrics.borrow_mut().idempotent_appends += 1;
                    return Ok(original);
                }
            }
            tx.abort();
            self.metrics.borrow_mut().conflicts += 1;
            return Err(error);
        }

        let count = ids.len() as u64;
        let result = AppendResult {
            stream: stream.clone(),
            first_version: head.next()?,
            last_version: head.plus(count)?,
            first_position: global.next()?,
            last_position: global.plus(count)?,
        };
        let now = self.env.now_ms();
        // Ids the caller did not give: UUIDv7 from one draw of random bytes per batch.
        let missing = ids.iter().filter(|id| id.is_none()).count();
        let mut random = vec![0u8; missing * 10];
        fill_random(&mut random);
        let mut random = random.chunks_exact(10);
        let ids: Vec<Option<EventId>> = {
            let mut generator = self.ids.borrow_mut();
            ids.into_iter()
                .map(|id| {
                    Some(id.unwrap_or_else(|| {
                        let mut bytes = [0u8; 10];
                        if let Some(chunk) = random.next() {
                            bytes.copy_from_slice(chunk);
                        }
                        generator.next_id(now, bytes)
                    }))
                })
                .collect()
        };
        let id_list: Array = ids
            .iter()
            .map(|id| JsValue::from_str(id.as_ref().map_or("", EventId::as_str)))
            .collect();
        let refused = glue::add_records(
            &events_store,
            &events,
            &id_list,
            stream.as_str(),
            result.first_version.as_f64(),
            result.first_position.as_f64(),
            now as f64,
        );
        if !refused.is_null() && !refused.is_undefined() {
            tx.abort();
            // A payload that cannot be cloned names its event (`{ field, message }`, as
            // JS built it: no formatting here); anything else is what was thrown.
            let error = glue::get(&refused, "error");
            if !error.is_undefined() {
                return Err(js_error(error));
            }
            let text = |key: &str| glue::get(&refused, key).as_string().unwrap_or_default();
            return Err(Error::invalid(text("field"), text("message")));
        }
        if let Some(mut condition) = pending_condition {
            condition.events = ids.iter().flatten().cloned().collect();
            conditions::save(&tx, &condition)?;
        }
        let written = glue::write_heads(
            &streams_store,
            &meta_store,
            &stream_key,
            result.last_version.as_f64(),
            result.last_position.as_f64(),
            synced as f64,
            pending_bytes + bytes as f64,
        );
        if let Err(e) = written {
            tx.abort();
            return Err(js_error(e));
        }

        match tx.commit().await {
            Ok(()) => {
                let mut metrics = self.metrics.borrow_mut();
                metrics.appends += 1;
                metrics.events_written += count;
                metrics.bytes_written += bytes;
                Ok(result)
            }
            Err(Error::Storage { name, message }) if name == "ConstraintError" => {
                // A stored id: an idempotent retry, or a mistake that resolve_retry names.
                let tx = self.begin(&[EVENTS], false)?;
                let found = JsFuture::from(lookup(&tx.store(EVENTS)?, &ids)).await;
                match resolve_retry(stream, &ids, &stored_at(&found.map_err(js_error)?)?)? {
                    Some(original) => {
                        self.metrics.borrow_mut().idempotent_appends += 1;
                        Ok(original)
                    }
                    None => Err(Error::storage(name, message)),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// The condition's check on its matches in the log (ascending): `Err`, the refusal, for
/// the first at or after its first position; else `Ok`, the ids of them all (what the
/// decision knew).
fn condition_check(
    stream: &StreamId,
    condition: &AppendCondition,
    seen: &[JsValue],
) -> Result<std::result::Result<Vec<EventId>, Error>> {
    let first = condition.first_position();
    let mut known = Vec::with_capacity(seen.len());
    for record in seen {
        let id = EventId::new(string_field(record, "id")?)?;
        let position = Position(version_field(record, "position")?);
        if position >= first {
            return Ok(Err(condition.violation(stream, position, id)));
        }
        known.push(id);
    }
    Ok(Ok(known))
}

/// Looks up where each id is stored (`js/idb.js`'s `lookupIds`; all requests are
/// issued before any is awaited); read the answer with [`stored_at`].
fn lookup(events: &IdbObjectStore, ids: &[Option<EventId>]) -> Promise {
    let list: Array = ids
        .iter()
        .map(|id| id.as_ref().map_or(JsValue::NULL, |id| JsValue::from_str(id.as_str())))
        .collect();
    glue::lookup_ids(events, &list)
}

/// Where each id of a [`lookup`] is stored, if anywhere.
fn stored_at(records: &JsValue) -> Result<Vec<Option<StoredAt>>> {
    let records: &Array = records.unchecked_ref();
    let mut found = Vec::with_capacity(records.length() as usize);
    for record in records.iter() {
        found.push(if record.is_undefined() {
            None
        } else {
            let head = record_head(&record)?;
            Some(StoredAt { stream: head.stream, version: head.version, position: head.position })
        });
    }
    Ok(found)
}
