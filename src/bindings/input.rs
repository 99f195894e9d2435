//! JS arguments -> validated Rust values. Every check returns an `InvalidInputError`
//! naming the argument; nothing here can panic, whatever JS passes.

use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::errors::{invalid, to_js};
use super::js;
use crate::event::{EventId, EventType, ExpectedVersion, NewEvent, Position, StreamId, Version};
use crate::store::{Direction, ReadOptions};

/// A JS result with a JS error.
pub type JsResult<T> = Result<T, JsValue>;

fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        "null".into()
    } else if Array::is_array(value) {
        "an array".into()
    } else {
        format!("a {}", value.js_typeof().as_string().unwrap_or_default())
    }
}

/// A JS string that is valid UTF-16 (no lone surrogates), as a Rust `String`.
pub fn string(value: &JsValue, field: &str) -> JsResult<String> {
    let Some(text) = value.dyn_ref::<JsString>() else {
        return Err(invalid(field, format!("must be a string, got {}", type_name(value))));
    };
    if !text.is_valid_utf16() {
        return Err(invalid(field, "contains a lone surrogate (not valid Unicode)"));
    }
    Ok(String::from(text))
}

/// A stream id argument.
pub fn stream_id(value: &JsValue) -> JsResult<StreamId> {
    StreamId::new(string(value, "stream")?).map_err(|e| to_js(&e))
}

/// An options object: `undefined`/`null` -> `None`; anything but a plain object, or an
/// object with a key outside `allowed`, is an error (a misspelt option never passes
/// silently).
pub fn options(value: &JsValue, field: &str, allowed: &[&str]) -> JsResult<Option<Object>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(invalid(field, format!("must be an object, got {}", type_name(value))));
    }
    let allowed_js: Array = allowed.iter().map(|k| JsValue::from_str(k)).collect();
    if let Some(key) = js::unknown_key(value, &allowed_js) {
        return Err(invalid(
            format!("{field}.{key}"),
            format!("is not a known option (known: {})", allowed.join(", ")),
        ));
    }
    Ok(Some(value.clone().unchecked_into()))
}

/// `options[key]`, `None` when absent or `undefined`.
pub fn get(options: Option<&Object>, key: &str) -> JsResult<Option<JsValue>> {
    let Some(options) = options else { return Ok(None) };
    let value = Reflect::get(options, &JsValue::from_str(key))?;
    Ok(if value.is_undefined() { None } else { Some(value) })
}

/// A whole number (>= 0, <= 2^53 - 1).
pub fn whole_number(value: &JsValue, field: &str) -> JsResult<u64> {
    let Some(n) = value.as_f64() else {
        return Err(invalid(field, format!("must be a number, got {}", type_name(value))));
    };
    Version::from_f64(n)
        .map(|v| v.0)
        .map_err(|_| invalid(field, "must be a whole number from 0 to 2^53 - 1"))
}

/// `expectedVersion`: a number, `"any"`, `"no_stream"` or `"exists"`; absent -> any.
pub fn expected_version(value: Option<JsValue>) -> JsResult<ExpectedVersion> {
    let Some(value) = value else { return Ok(ExpectedVersion::Any) };
    if let Some(keyword) = value.as_string() {
        return ExpectedVersion::from_keyword(&keyword).map_err(|e| to_js(&e));
    }
    if value.as_f64().is_some() {
        return Ok(ExpectedVersion::Exact(Version(whole_number(&value, "expectedVersion")?)));
    }
    Err(invalid(
        "expectedVersion",
        format!("must be a version number, \"any\", \"no_stream\" or \"exists\"; got {}", type_name(&value)),
    ))
}

/// The events of an `append` call and their approximate payload size in bytes.
pub fn events(value: &JsValue) -> JsResult<(Vec<NewEvent<JsValue>>, u64)> {
    let Some(array) = value.dyn_ref::<Array>() else {
        return Err(invalid("events", format!("must be an array of events, got {}", type_name(value))));
    };
    let mut bytes = 0u64;
    let mut events = Vec::with_capacity(array.length() as usize);
    for (index, event) in array.iter().enumerate() {
        let i = index as u32;
        let size = js::check_event(&event, i).map_err(|thrown| {
            let field = Reflect::get(&thrown, &"field".into()).ok().and_then(|f| f.as_string());
            let message = Reflect::get(&thrown, &"message".into()).ok().and_then(|m| m.as_string());
            invalid(
                field.unwrap_or_else(|| format!("events[{i}]")),
                message.unwrap_or_else(|| "is not a valid event".into()),
            )
        })?;
        bytes += size as u64;
        let field = |name: &str| format!("events[{i}].{name}");
        let get = |key: &str| Reflect::get(&event, &JsValue::from_str(key));
        let type_value = get("type")?;
        if type_value.is_undefined() {
            return Err(invalid(field("type"), "is missing: every event needs a type name"));
        }
        let event_type = EventType::new(string(&type_value, &field("type"))?)
            .map_err(|e| invalid(field("type"), e.to_string()))?;
        let id = match get("id")? {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(EventId::new(string(&v, &field("id"))?).map_err(|e| invalid(field("id"), e.to_string()))?),
        };
        let schema = match get("schema")? {
            v if v.is_undefined() => 1,
            v => match whole_number(&v, &field("schema")).map(u32::try_from) {
                Ok(Ok(n)) if n >= 1 => n,
                _ => return Err(invalid(field("schema"), "must be a whole number from 1 to 2^32 - 1")),
            },
        };
        let data = get("data")?;
        let data = if data.is_undefined() { JsValue::NULL } else { data };
        let meta = get("meta")?;
        let meta = if meta.is_undefined() || meta.is_null() { None } else { Some(meta) };
        events.push(NewEvent { id, event_type, data, meta, schema });
    }
    Ok((events, bytes))
}

/// Options of `read(stream, options)`.
pub fn read_options(value: &JsValue) -> JsResult<ReadOptions> {
    let options = options(value, "options", &["fromVersion", "limit", "direction", "upcast"])?;
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

/// Options of `readAll(options)`: the start position (inclusive) and the limit.
pub fn read_all_options(value: &JsValue) -> JsResult<(Position, usize)> {
    let options = options(value, "options", &["fromPosition", "limit", "upcast"])?;
    let options = options.as_ref();
    let from = get(options, "fromPosition")?
        .map(|v| whole_number(&v, "options.fromPosition").map(Position))
        .transpose()?
        .unwrap_or_default();
    Ok((from, limit(get(options, "limit")?)?))
}

fn limit(value: Option<JsValue>) -> JsResult<usize> {
    match value {
        None => Ok(usize::MAX),
        Some(v) => whole_number(&v, "options.limit").map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

/// The `upcast` flag of read options (`read`, `readAll`): `true` hands out events at
/// their latest schema; absent means `false`. The other keys are checked by the caller.
pub fn upcast_option(value: &JsValue) -> JsResult<bool> {
    if !value.is_object() || Array::is_array(value) {
        return Ok(false);
    }
    flag(Reflect::get(value, &JsValue::from_str("upcast"))?, "options.upcast", false)
}

/// A boolean option: `undefined` -> `default`; anything but a boolean is an error.
pub fn flag(value: JsValue, field: &str, default: bool) -> JsResult<bool> {
    if value.is_undefined() {
        return Ok(default);
    }
    value.as_bool().ok_or_else(|| invalid(field, format!("must be true or false, got {}", type_name(&value))))
}
