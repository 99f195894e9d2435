//! JS arguments -> validated Rust values. Every check returns an `InvalidInputError`
//! naming the argument; nothing here can panic, whatever JS passes.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::errors::{invalid, to_js};
use crate::event::{tags_from_strings, EventId, EventType, NewEvent, Tag};
use crate::web::glue as js;
#[cfg(feature = "client")]
use {
    crate::event::{ExpectedVersion, Position, StreamId, Version},
    crate::query::{AppendCondition, Query, QueryItem, QueryOptions},
    crate::store::{Direction, ReadOptions},
};

/// A JS result with a JS error.
pub type JsResult<T> = Result<T, JsValue>;

/// A JS string that is valid UTF-16 (no lone surrogates), as a Rust `String`.
pub fn string(value: &JsValue, field: &str) -> JsResult<String> {
    js::check_string(value, field).map_err(field_error)
}

/// A stream id argument.
#[cfg(feature = "client")]
pub fn stream_id(value: &JsValue) -> JsResult<StreamId> {
    StreamId::new(string(value, "stream")?).map_err(|e| to_js(&e.into()))
}

/// An options object: `undefined`/`null` -> `None`; anything but a plain object, or an
/// object with a key outside `allowed` (comma-separated), is an error (a misspelt option
/// never passes silently). The check is `js/batch.js`'s `checkOptions`.
pub fn options(value: &JsValue, field: &str, allowed: &str) -> JsResult<Option<Object>> {
    Ok(js::check_options(value, field, allowed)
        .map_err(field_error)?
        .then(|| value.clone().unchecked_into()))
}

/// `options[key]`, `None` when absent or `undefined`.
pub fn get(options: Option<&Object>, key: &str) -> JsResult<Option<JsValue>> {
    let Some(options) = options else { return Ok(None) };
    let value = Reflect::get(options, &JsValue::from_str(key))?;
    Ok(if value.is_undefined() { None } else { Some(value) })
}

/// A whole number (>= 0, <= 2^53 - 1).
pub fn whole_number(value: &JsValue, field: &str) -> JsResult<u64> {
    Ok(js::check_whole(value, field).map_err(field_error)? as u64)
}

/// `expectedVersion`: a number, `"any"`, `"no_stream"` or `"exists"`; absent -> any.
#[cfg(feature = "client")]
pub fn expected_version(value: Option<JsValue>) -> JsResult<ExpectedVersion> {
    let Some(value) = value else { return Ok(ExpectedVersion::Any) };
    if let Some(keyword) = value.as_string() {
        return ExpectedVersion::from_keyword(&keyword).map_err(|e| to_js(&e.into()));
    }
    if value.as_f64().is_some() {
        return Ok(ExpectedVersion::Exact(Version(whole_number(&value, "expectedVersion")?)));
    }
    Err(invalid(
        "expectedVersion",
        format!(
            "must be a version number, \"any\", \"no_stream\" or \"exists\"; got {}",
            js::describe_type(&value)
        ),
    ))
}

/// The events of an `append` call, checked: the plain copies the store writes, their ids,
/// and their approximate payload size in bytes.
pub struct InputBatch {
    /// `[{ type, tags, data, meta, schema }]`, each field read once from the caller's
    /// objects.
    pub events: Array,
    /// The caller's ids (`None`: the store makes one).
    pub ids: Vec<Option<EventId>>,
    /// Each event's tags, checked (read by `to_new_events`).
    #[cfg_attr(not(any(feature = "memory", feature = "file", feature = "sync")), allow(dead_code))]
    pub tags: Vec<Vec<Tag>>,
    /// Approximate JSON bytes of the payloads.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub bytes: u64,
}

impl InputBatch {
    /// The batch as Rust events (for the memory and file stores and conflict settlement).
    #[cfg_attr(not(any(feature = "memory", feature = "file", feature = "sync")), allow(dead_code))]
    pub fn to_new_events(&self) -> JsResult<Vec<NewEvent<JsValue>>> {
        let mut events = Vec::with_capacity(self.ids.len());
        for ((event, id), tags) in self.events.iter().zip(&self.ids).zip(&self.tags) {
            let get = |key: &str| Reflect::get(&event, &JsValue::from_str(key));
            let event_type = EventType::new(get("type")?.as_string().unwrap_or_default())
                .map_err(|e| to_js(&e.into()))?;
            let meta = get("meta")?;
            events.push(NewEvent {
                id: id.clone(),
                event_type,
                tags: tags.clone(),
                data: get("data")?,
                meta: if meta.is_null() || meta.is_undefined() { None } else { Some(meta) },
                schema: get("schema")?.as_f64().map_or(1, |s| s as u32),
            });
        }
        Ok(events)
    }
}

/// What the JS checks throw, `{ field, message }`, as an `InvalidInputError`; anything
/// else (a caller's getter or proxy that threw) goes through as it was thrown.
fn field_error(thrown: JsValue) -> JsValue {
    match js::get(&thrown, "field").as_string() {
        Some(field) => invalid(field, js::get(&thrown, "message").as_string().unwrap_or_default()),
        None => thrown,
    }
}

/// Checks the events of an `append` call in one pass over the JS array (shape, payloads,
/// types, tags, ids, schemas, and with `max_event_bytes` each event's size as the sync
/// server would store it in `stream`); the string rules of types, tags and ids are the
/// Rust ones.
pub fn events(
    value: &JsValue,
    stream: &str,
    max_event_bytes: Option<usize>,
) -> JsResult<InputBatch> {
    let limit = max_event_bytes.map_or(0.0, |n| n as f64);
    let inspected = js::inspect_events(value, stream, limit).map_err(field_error)?;
    let part = |key: &str| -> JsResult<Array> {
        Ok(Reflect::get(&inspected, &JsValue::from_str(key))?.unchecked_into())
    };
    let (events, types, ids, tags) = (part("events")?, part("types")?, part("ids")?, part("tags")?);
    let bytes = Reflect::get(&inspected, &"bytes".into())?.as_f64().unwrap_or(0.0) as u64;
    let mut checked_ids = Vec::with_capacity(ids.length() as usize);
    let mut checked_tags = Vec::with_capacity(ids.length() as usize);
    for (i, ((event_type, id), event_tags)) in
        types.iter().zip(ids.iter()).zip(tags.iter()).enumerate()
    {
        let field = |name: &str| format!("events[{i}].{name}");
        EventType::new(event_type.as_string().unwrap_or_default())
            .map_err(|e| invalid(field("type"), e.to_string()))?;
        let event_tags: Array = event_tags.unchecked_into();
        let strings = event_tags.iter().map(|t| t.as_string().unwrap_or_default()).collect();
        checked_tags
            .push(tags_from_strings(&field("tags"), strings).map_err(|e| to_js(&e.into()))?);
        checked_ids.push(match id.as_string() {
            Some(id) => Some(EventId::new(id).map_err(|e| invalid(field("id"), e.to_string()))?),
            None => None,
        });
    }
    Ok(InputBatch { events, ids: checked_ids, tags: checked_tags, bytes })
}

/// Options of `read(stream, options)`.
#[cfg(feature = "client")]
pub fn read_options(value: &JsValue) -> JsResult<ReadOptions> {
    let options = options(value, "options", "fromVersion,limit,direction,upcast")?;
    let options = options.as_ref();
    let from_version = get(options, "fromVersion")?
        .map(|v| whole_number(&v, "options.fromVersion").map(Version))
        .transpose()?;
    let limit = limit(get(options, "limit")?)?;
    let direction = match get(options, "direction")? {
        None => Direction::Forward,
        Some(v) => match v.as_string().as_deref() {
            Some("forward") => Direction::Forward,
            Some("backward") => Direction::Backward,
            _ => return Err(invalid("options.direction", "must be \"forward\" or \"backward\"")),
        },
    };
    Ok(ReadOptions { from_version, limit, direction })
}

/// Options of `readAll(options)`: the start position (inclusive; `None`: not given, the
/// read starts at retention's floor) and the limit.
#[cfg(feature = "client")]
pub fn read_all_options(value: &JsValue) -> JsResult<(Option<Position>, usize)> {
    let options = options(value, "options", "fromPosition,limit,upcast")?;
    let options = options.as_ref();
    let from = get(options, "fromPosition")?
        .map(|v| whole_number(&v, "options.fromPosition").map(Position))
        .transpose()?;
    Ok((from, limit(get(options, "limit")?)?))
}

/// The open option `retain`: `{ events?, ms? }`, each a whole number from 1 (errors name
/// `options.retain.events` / `.ms`). `keep_pending`: the store syncs.
#[cfg(feature = "client")]
pub fn retain(value: &JsValue, keep_pending: bool) -> JsResult<crate::store::Retention> {
    let options = options(value, "options.retain", "events,ms")?;
    let options = options.as_ref();
    let bound = |key: &str| -> JsResult<Option<u64>> {
        let field = format!("options.retain.{key}");
        get(options, key)?
            .map(|v| match whole_number(&v, &field)? {
                0 => Err(invalid(&field, "must be a whole number from 1 to 2^53 - 1")),
                n => Ok(n),
            })
            .transpose()
    };
    let retention =
        crate::store::Retention { events: bound("events")?, ms: bound("ms")?, keep_pending };
    if retention.events.is_none() && retention.ms.is_none() {
        return Err(invalid("options.retain", "must give events, ms or both"));
    }
    Ok(retention)
}

#[cfg(feature = "client")]
fn limit(value: Option<JsValue>) -> JsResult<usize> {
    match value {
        None => Ok(usize::MAX),
        Some(v) => {
            whole_number(&v, "options.limit").map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        }
    }
}

/// The `upcast` flag of read options (`read`, `readAll`): `true` hands out events at
/// their latest schema; absent means `false`. The other keys are checked by the caller.
#[cfg(feature = "client")]
pub fn upcast_option(value: &JsValue) -> JsResult<bool> {
    if !value.is_object() || Array::is_array(value) {
        return Ok(false);
    }
    flag(Reflect::get(value, &JsValue::from_str("upcast"))?, "options.upcast", false)
}

/// A boolean option: `undefined` -> `default`; anything but a boolean is an error.
#[cfg(feature = "client")]
pub fn flag(value: JsValue, field: &str, default: bool) -> JsResult<bool> {
    js::check_flag(&value, field, default).map_err(field_error)
}

/// A query: `"all"` or a list of `{ types?, tags? }` items (see `crate::query`);
/// `field` names it in errors (`"query"`, `"options.condition.failIfEventsMatch"`). The
/// shape is checked in JS (`inspectQuery`), the strings and limits here.
#[cfg(feature = "client")]
pub fn query(value: &JsValue, field: &str) -> JsResult<Query> {
    let items = js::inspect_query(value, field).map_err(field_error)?;
    if items.is_null() {
        return Ok(Query::All);
    }
    let items: Array = items.unchecked_into();
    let strings = |item: &JsValue, key: &str| -> Option<Vec<String>> {
        let list = Reflect::get(item, &JsValue::from_str(key)).ok()?;
        let list = list.dyn_ref::<Array>()?;
        Some(list.iter().map(|s| s.as_string().unwrap_or_default()).collect())
    };
    let mut checked = Vec::with_capacity(items.length() as usize);
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}[{i}]");
        checked.push(
            QueryItem::new(&at, strings(&item, "types"), strings(&item, "tags"))
                .map_err(|e| to_js(&e))?,
        );
    }
    Query::items(field, checked).map_err(|e| to_js(&e))
}

/// Options of `query(query, options)`: `{ after, backwards, limit }`.
#[cfg(feature = "client")]
pub fn query_options(value: &JsValue) -> JsResult<QueryOptions> {
    let options = options(value, "options", "after,backwards,limit")?;
    let options = options.as_ref();
    let after = get(options, "after")?
        .map(|v| whole_number(&v, "options.after").map(Position))
        .transpose()?;
    let backwards =
        flag(get(options, "backwards")?.unwrap_or(JsValue::UNDEFINED), "options.backwards", false)?;
    Ok(QueryOptions { after, backwards, limit: limit(get(options, "limit")?)? })
}

/// An append's `condition`: `{ failIfEventsMatch, after? }`.
#[cfg(feature = "client")]
pub fn condition(value: &JsValue) -> JsResult<AppendCondition> {
    let field = "options.condition";
    let object = options(value, field, "failIfEventsMatch,after")?
        .ok_or_else(|| invalid(field, "must be an object like { failIfEventsMatch, after }"))?;
    let Some(matching) = get(Some(&object), "failIfEventsMatch")? else {
        return Err(invalid(
            format!("{field}.failIfEventsMatch"),
            "is missing: the query whose events make the append fail",
        ));
    };
    let fail_if_events_match = query(&matching, &format!("{field}.failIfEventsMatch"))?;
    let after = get(Some(&object), "after")?
        .map(|v| whole_number(&v, &format!("{field}.after")).map(Position))
        .transpose()?;
    Ok(AppendCondition { fail_if_events_match, after })
}
