//! The client's conversions (features `client` and `sync`): records, events, outbox entries, the
//! server's JSON answers, and what the store API resolves to.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::js_error;
use crate::error::{Error, Result};
use crate::event::{
    AppendResult, Event, EventId, EventType, Invalid, Position, StreamId, Tag, Version,
};
use crate::outbox::{Failure, OutboxEntry};
#[cfg(feature = "sync")]
use crate::protocol::{PushAck, PushCondition, PushResponse};
use crate::protocol::{PushEvent, WireEvent};
use crate::query::Query;
use crate::store::{Metrics, StreamInfo};
use crate::web::glue::{self, get};
use crate::web::indexeddb::SYNCED_VERSION;

/// `target[key] = value`, as a typed error when the host refuses.
pub(crate) fn set(target: &Object, key: &str, value: &JsValue) -> Result<()> {
    Reflect::set(target, &JsValue::from_str(key), value).map(drop).map_err(js_error)
}

/// Builds the stored (and public) record of one event, in one call to JS (`makeRecord`:
/// an object literal, so every record has the same shape).
#[allow(clippy::too_many_arguments)]
pub(crate) fn event_record(
    id: &EventId,
    stream: &JsValue,
    version: Version,
    position: Position,
    event_type: &EventType,
    tags: &[Tag],
    data: &JsValue,
    meta: Option<&JsValue>,
    recorded_at: &JsValue,
    schema: u32,
) -> Result<Object> {
    Ok(glue::make_record(
        position.as_f64(),
        id.as_str(),
        stream,
        version.as_f64(),
        event_type.as_str(),
        &tags_to_js(tags),
        data,
        meta.unwrap_or(&JsValue::NULL),
        recorded_at,
        schema,
    ))
}

/// Tags as a JS array of strings.
pub(crate) fn tags_to_js(tags: &[Tag]) -> JsValue {
    tags.iter().map(|t| JsValue::from_str(t.as_str())).collect::<Array>().into()
}

/// The `tags` of a stored record or parsed JSON: absent or null (records written before
/// tags existed) is none; anything else must be an array of valid tags.
pub(crate) fn tags_field(record: &JsValue) -> Result<Vec<Tag>> {
    let value = get(record, "tags");
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let Some(list) = value.dyn_ref::<Array>() else {
        return Err(Error::storage("DataError", "stored event has tags that are not a list"));
    };
    list.iter().map(|t| Tag::new(t.as_string().unwrap_or_default()).map_err(corrupt)).collect()
}

/// Reads a numeric field of a record that may be absent (`undefined` record: 0).
pub(crate) fn version_field(record: &JsValue, field: &str) -> Result<u64> {
    if record.is_undefined() || record.is_null() {
        return Ok(0);
    }
    let value = get(record, field);
    value
        .as_f64()
        .and_then(|v| Version::from_f64(v).ok())
        .map(|v| v.0)
        .ok_or_else(|| Error::storage("DataError", format!("stored record has no valid {field}")))
}

/// A stream record's `syncedVersion`; records written before schema 3 have none (0).
pub(crate) fn synced_version_field(record: &JsValue) -> Result<u64> {
    let present =
        !record.is_undefined() && !record.is_null() && !get(record, SYNCED_VERSION).is_undefined();
    if present {
        version_field(record, SYNCED_VERSION)
    } else {
        Ok(0)
    }
}

pub(crate) fn string_field(record: &JsValue, field: &str) -> Result<String> {
    get(record, field)
        .as_string()
        .ok_or_else(|| Error::storage("DataError", format!("stored event has no {field}")))
}

/// A stored value the event model refuses: the database holds something tidelog did not
/// write (a `DataError`).
fn corrupt(e: Invalid) -> Error {
    Error::storage("DataError", format!("stored event is malformed: {e}"))
}

/// What a stored record is and where: the fields an append's retry lookup and a
/// `ReplayError` need, without converting the rest of the record.
pub(crate) struct RecordHead {
    /// The event's id.
    pub(crate) id: EventId,
    /// Its stream.
    pub(crate) stream: StreamId,
    /// Its version in the stream.
    pub(crate) version: Version,
    /// Its global position.
    pub(crate) position: Position,
    /// Its type.
    pub(crate) event_type: EventType,
}

/// A stored record's [`RecordHead`], checked as [`record_to_event`] checks it.
pub(crate) fn record_head(record: &JsValue) -> Result<RecordHead> {
    Ok(RecordHead {
        id: EventId::new(string_field(record, "id")?).map_err(corrupt)?,
        stream: StreamId::new(string_field(record, "stream")?).map_err(corrupt)?,
        version: Version(version_field(record, "version")?),
        position: Position(version_field(record, "position")?),
        event_type: EventType::new(string_field(record, "type")?).map_err(corrupt)?,
    })
}

/// Converts a stored record into a typed event (for Rust callers; JS gets the records).
pub fn record_to_event(record: &JsValue) -> Result<Event<JsValue>> {
    let RecordHead { id, stream, version, position, event_type } = record_head(record)?;
    let meta = get(record, "meta");
    let recorded_at = get(record, "recordedAt").as_f64().unwrap_or(0.0);
    Ok(Event {
        id,
        stream,
        version,
        position,
        event_type,
        tags: tags_field(record)?,
        data: get(record, "data"),
        meta: if meta.is_null() || meta.is_undefined() { None } else { Some(meta) },
        recorded_at: recorded_at.max(0.0) as u64,
        schema: version_field(record, "schema")?.try_into().unwrap_or(u32::MAX),
    })
}

pub(crate) fn records_to_events(records: &Array) -> Result<Vec<Event<JsValue>>> {
    records.iter().map(|r| record_to_event(&r)).collect()
}

// ---- the sync side: failures, outbox entries, push and wire events ----------------------

/// A numeric field of a stored record (absent record: 0).
pub(crate) fn num(value: &JsValue, field: &str) -> Result<u64> {
    version_field(value, field)
}

/// A failure as JS `{ status, message }` (`status` null for network errors).
pub(crate) fn failure_to_js(failure: &Failure) -> JsValue {
    let js: JsValue = Object::new().into();
    glue::set(&js, "status", failure.status.map_or(JsValue::NULL, |s| s.into()));
    glue::set(&js, "message", failure.message.as_str().into());
    js
}

pub(crate) fn failure_from_js(value: &JsValue) -> Option<Failure> {
    if value.is_null() || value.is_undefined() {
        return None;
    }
    let status = get(value, "status").as_f64().map(|s| s as u16);
    let message = get(value, "message").as_string().unwrap_or_default();
    Some(Failure { status, message })
}

/// An outbox entry as its stored record.
pub(crate) fn entry_to_js(entry: &OutboxEntry) -> JsValue {
    let js = Object::new();
    glue::set(&js, "stream", entry.stream.as_str().into());
    glue::set(&js, "attempts", entry.attempts.into());
    glue::set(&js, "nextAttemptAt", (entry.next_attempt_at as f64).into());
    glue::set(&js, "leaseUntil", entry.lease_until.map_or(JsValue::NULL, |t| (t as f64).into()));
    glue::set(&js, "lastError", entry.last_error.as_ref().map_or(JsValue::NULL, failure_to_js));
    js.into()
}

/// An outbox entry from its stored record (defaults where absent).
pub(crate) fn entry_from_js(stream: StreamId, value: &JsValue) -> OutboxEntry {
    let mut entry = OutboxEntry::new(stream);
    if value.is_undefined() || value.is_null() {
        return entry;
    }
    let number = |k: &str| get(value, k).as_f64();
    entry.attempts = number("attempts").unwrap_or(0.0) as u32;
    entry.next_attempt_at = number("nextAttemptAt").unwrap_or(0.0) as u64;
    entry.lease_until = number("leaseUntil").map(|t| t as u64);
    entry.last_error = failure_from_js(&get(value, "lastError"));
    entry
}

/// A stored record as a push event (the wire shape minus stream/version/position).
pub(crate) fn record_to_push(record: &JsValue) -> Result<PushEvent<JsValue>> {
    let meta = get(record, "meta");
    Ok(PushEvent {
        id: EventId::new(string_field(record, "id")?).map_err(corrupt)?,
        event_type: EventType::new(string_field(record, "type")?).map_err(corrupt)?,
        tags: tags_field(record)?,
        data: get(record, "data"),
        meta: if meta.is_null() || meta.is_undefined() { None } else { Some(meta) },
        recorded_at: num(record, "recordedAt")?,
        schema: num(record, "schema")?.try_into().unwrap_or(1),
    })
}

/// A push event as a plain JS object `{ id, type, tags, data, meta, recordedAt, schema }`
/// (`tags` left out when empty, as on the wire).
pub(crate) fn push_to_js(event: &PushEvent<JsValue>) -> JsValue {
    let js = Object::new();
    glue::set(&js, "id", event.id.as_str().into());
    glue::set(&js, "type", event.event_type.as_str().into());
    if !event.tags.is_empty() {
        glue::set(&js, "tags", tags_to_js(&event.tags));
    }
    glue::set(&js, "data", event.data.clone());
    glue::set(&js, "meta", event.meta.clone().unwrap_or(JsValue::NULL));
    glue::set(&js, "recordedAt", (event.recorded_at as f64).into());
    glue::set(&js, "schema", event.schema.into());
    js.into()
}

/// Push events as a JS array of `{ id, type, data, meta, recordedAt, schema }`.
pub(crate) fn push_list(events: &[PushEvent<JsValue>]) -> Array {
    events.iter().map(push_to_js).collect()
}

/// An event as a JS object in the public event shape (a stored event, or a wire event with
/// the server's version and position).
pub fn event_to_js(event: &Event<JsValue>) -> Result<JsValue> {
    event_with_payload_to_js(event, &event.data, event.meta.as_ref())
}

/// [`event_to_js`] with other payload values (a memory store hands out copies of its
/// `data` and `meta`, so a reader cannot change the stored event).
pub fn event_with_payload_to_js(
    event: &Event<JsValue>,
    data: &JsValue,
    meta: Option<&JsValue>,
) -> Result<JsValue> {
    let record = event_record(
        &event.id,
        &event.stream.as_str().into(),
        event.version,
        event.position,
        &event.event_type,
        &event.tags,
        data,
        meta,
        &(event.recorded_at as f64).into(),
        event.schema,
    )?;
    Ok(record.into())
}

// ---- the server's JSON answers, as parsed by the host (`JSON.parse`) ------------------------

/// A whole-number field of parsed JSON.
pub(crate) fn number(value: &JsValue, key: &str) -> Result<u64, String> {
    get(value, key)
        .as_f64()
        .and_then(|n| Version::from_f64(n).ok())
        .map(|v| v.0)
        .ok_or_else(|| format!("the server's answer has no valid {key}"))
}

/// A string field of parsed JSON.
pub(crate) fn text(value: &JsValue, key: &str) -> Result<String, String> {
    get(value, key).as_string().ok_or_else(|| format!("the server's answer has no {key}"))
}

/// A validation error of a value the server sent, as the transport's message.
pub(crate) fn checked<T>(r: Result<T, Invalid>) -> Result<T, String> {
    r.map_err(|e| format!("the server sent an invalid value: {e}"))
}

/// Reads a wire event `{id, stream, version, position, type, data, meta, recordedAt,
/// schema}` out of parsed JSON.
pub fn wire_from_js(value: &JsValue) -> Result<WireEvent<JsValue>, String> {
    let meta = get(value, "meta");
    Ok(WireEvent {
        id: checked(EventId::new(text(value, "id")?))?,
        stream: checked(StreamId::new(text(value, "stream")?))?,
        version: Version(number(value, "version")?),
        position: Position(number(value, "position")?),
        event_type: checked(EventType::new(text(value, "type")?))?,
        tags: tags_field(value).map_err(|e| format!("the server sent an invalid value: {e}"))?,
        data: get(value, "data"),
        meta: if meta.is_null() || meta.is_undefined() { None } else { Some(meta) },
        recorded_at: number(value, "recordedAt").unwrap_or(0),
        schema: number(value, "schema").map_or(1, |s| u32::try_from(s).unwrap_or(1)),
    })
}

/// The `events` list of a read answer.
#[cfg(feature = "sync")]
pub(crate) fn events_from_js(body: &JsValue) -> Result<Vec<WireEvent<JsValue>>, String> {
    let events = get(body, "events");
    let Some(events) = events.dyn_ref::<Array>() else {
        return Err("the server's answer has no events list".into());
    };
    events.iter().map(|e| wire_from_js(&e)).collect()
}

/// A push answer `{ version, events: [{ id, version, position }] }`.
#[cfg(feature = "sync")]
pub(crate) fn push_response_from_js(body: &JsValue) -> Result<PushResponse, String> {
    let events = get(body, "events");
    let Some(events) = events.dyn_ref::<Array>() else {
        return Err("the server's answer has no events list".into());
    };
    Ok(PushResponse {
        version: Version(number(body, "version")?),
        events: events
            .iter()
            .map(|a| {
                Ok(PushAck {
                    id: checked(EventId::new(text(&a, "id")?))?,
                    version: Version(number(&a, "version")?),
                    position: Position(number(&a, "position")?),
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

// ---- what the store API resolves to ----------------------------------------------------------

/// An append's result `{ stream, firstVersion, lastVersion, firstPosition, lastPosition }`.
pub fn append_result_to_js(result: &AppendResult) -> JsValue {
    let js = Object::new();
    glue::set(&js, "stream", result.stream.as_str().into());
    glue::set(&js, "firstVersion", result.first_version.as_f64().into());
    glue::set(&js, "lastVersion", result.last_version.as_f64().into());
    glue::set(&js, "firstPosition", result.first_position.as_f64().into());
    glue::set(&js, "lastPosition", result.last_position.as_f64().into());
    js.into()
}

/// The store's counters `{ appends, eventsWritten, bytesWritten, idempotentAppends,
/// conflicts, reads, eventsRead }`.
pub fn metrics_to_js(m: Metrics) -> JsValue {
    let js = Object::new();
    glue::set(&js, "appends", (m.appends as f64).into());
    glue::set(&js, "eventsWritten", (m.events_written as f64).into());
    glue::set(&js, "bytesWritten", (m.bytes_written as f64).into());
    glue::set(&js, "idempotentAppends", (m.idempotent_appends as f64).into());
    glue::set(&js, "conflicts", (m.conflicts as f64).into());
    glue::set(&js, "reads", (m.reads as f64).into());
    glue::set(&js, "eventsRead", (m.events_read as f64).into());
    js.into()
}

/// One entry of `streams()`: `{ stream, version, lastPosition, syncedVersion }`.
pub fn stream_info_to_js(s: &StreamInfo) -> JsValue {
    glue::stream_row(
        s.stream.as_str(),
        s.version.as_f64(),
        s.last_position.as_f64(),
        s.synced_version.as_f64(),
    )
    .into()
}

// ---- the file store (feature file) ------------------------------------------------------

/// A file-store event (payloads kept as JSON text) in the public event shape, its `data`
/// and `meta` parsed afresh (so a reader cannot change the stored event).
#[cfg(feature = "file")]
pub fn json_event_to_js(event: &Event<String>) -> Result<JsValue> {
    let parse = |text: &str| {
        js_sys::JSON::parse(text).map_err(|_| {
            Error::storage(
                "Corrupted",
                format!("event {} holds a payload that is not JSON", event.id),
            )
        })
    };
    let data = parse(&event.data)?;
    let meta = event.meta.as_deref().map(parse).transpose()?;
    let record = event_record(
        &event.id,
        &event.stream.as_str().into(),
        event.version,
        event.position,
        &event.event_type,
        &event.tags,
        &data,
        meta.as_ref(),
        &(event.recorded_at as f64).into(),
        event.schema,
    )?;
    Ok(record.into())
}

/// What opening a file store cut off its log, as `{ offset, bytes, events }`.
#[cfg(feature = "file")]
pub fn recovery_to_js(cut: &crate::store::file::Recovery) -> JsValue {
    let report = Object::new();
    glue::set(&report, "offset", (cut.offset as f64).into());
    glue::set(&report, "bytes", (cut.bytes as f64).into());
    glue::set(&report, "events", cut.events.map_or(JsValue::NULL, JsValue::from));
    report.into()
}

/// A payload as JSON text for the file store (`field` names it in the error): values
/// `JSON.stringify` refuses (a `BigInt`, a cycle) or drops (`undefined`, a function) are
/// invalid input.
#[cfg(feature = "file")]
pub fn json_text(value: &JsValue, field: &str) -> Result<String> {
    let refused =
        |why: String| Error::invalid(field, format!("must be JSON for file storage ({why})"));
    let text = js_sys::JSON::stringify(value).map_err(|e| match js_error(e) {
        Error::Storage { message, .. } => refused(message),
        other => refused(other.to_string()),
    })?;
    text.as_string().ok_or_else(|| refused("JSON.stringify gave no text".into()))
}

fn strings(values: &mut dyn Iterator<Item = &str>) -> Option<JsValue> {
    let list: Array = values.map(JsValue::from_str).collect();
    (list.length() > 0).then(|| list.into())
}

/// A query as the app writes it and the protocol carries it: `"all"` or a list of
/// `{ types?, tags? }` (empty lists left out).
pub(crate) fn query_to_js(query: &Query) -> JsValue {
    let Query::Items(items) = query else { return "all".into() };
    let list = Array::new();
    for item in items {
        let entry = Object::new();
        if let Some(types) = strings(&mut item.types().iter().map(|t| t.as_str())) {
            glue::set(&entry, "types", types);
        }
        if let Some(tags) = strings(&mut item.tags().iter().map(|t| t.as_str())) {
            glue::set(&entry, "tags", tags);
        }
        list.push(&entry);
    }
    list.into()
}

/// A push condition as the push body carries it: `{ event, failIfEventsMatch, after,
/// known }`.
#[cfg(feature = "sync")]
pub(crate) fn push_condition_to_js(condition: &PushCondition) -> JsValue {
    let js = Object::new();
    glue::set(&js, "event", (condition.event as f64).into());
    glue::set(&js, "failIfEventsMatch", query_to_js(&condition.fail_if_events_match));
    glue::set(&js, "after", condition.after.as_f64().into());
    let known: Array = condition.known.iter().map(|id| JsValue::from_str(id.as_str())).collect();
    glue::set(&js, "known", known.into());
    js.into()
}
