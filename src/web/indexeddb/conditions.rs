//! The conditions of pending conditional appends ([`PendingCondition`]), kept in the
//! `meta` store under `condition:<id of the append's first event>`: written in the
//! append's own transaction, read to build pushes, rewritten by a re-check, deleted once
//! the append is acknowledged or set aside.
//!
//! Record: `{ failIfEventsMatch: "all" | [{ types?, tags? }], after?, events: [id],
//! serverAfter, known: [id] }` (the app's condition in the shape it gave it, plus what
//! the device knew when it decided; see [`PendingCondition`]).

use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbKeyRange;

use super::META;
use crate::error::{Error, Result};
use crate::event::{EventId, Position};
use crate::query::{AppendCondition, Query, QueryItem};
use crate::sync::PendingCondition;
use crate::web::convert::{js_error, num, query_to_js, version_field};
use crate::web::glue::{self, get};
use crate::web::idb::{request, Transaction};

/// Key prefix of condition records in `meta`.
const PREFIX: &str = "condition:";
/// The key after every condition key (`;` follows `:`).
const PREFIX_END: &str = "condition;";
/// `meta["feed"]`: the feed cursor; its `position` is the lowest lane's.
pub(super) const FEED_KEY: &str = "feed";

fn key(anchor: &EventId) -> JsValue {
    JsValue::from_str(&format!("{PREFIX}{}", anchor.as_str()))
}

fn ids_to_js(ids: &[EventId]) -> JsValue {
    ids.iter().map(|id| JsValue::from_str(id.as_str())).collect::<Array>().into()
}

fn ids_from_js(value: &JsValue) -> Result<Vec<EventId>> {
    let list: Array = value.clone().dyn_into().unwrap_or_default();
    list.iter().map(|id| Ok(EventId::new(id.as_string().unwrap_or_default())?)).collect()
}

/// An app's condition as JS: `{ failIfEventsMatch, after? }`, as it gave it.
pub(crate) fn condition_to_js(condition: &AppendCondition) -> JsValue {
    let js = Object::new();
    glue::set(&js, "failIfEventsMatch", query_to_js(&condition.fail_if_events_match));
    if let Some(after) = condition.after {
        glue::set(&js, "after", after.as_f64().into());
    }
    js.into()
}

fn condition_from_js(js: &JsValue) -> Result<AppendCondition> {
    let query = get(js, "failIfEventsMatch");
    let fail_if_events_match = match query.dyn_ref::<Array>() {
        None => Query::All,
        Some(items) => {
            let list = |item: &JsValue, key: &str| -> Option<Vec<String>> {
                let values: Array = get(item, key).dyn_into().ok()?;
                Some(values.iter().map(|s| s.as_string().unwrap_or_default()).collect())
            };
            let mut checked = Vec::with_capacity(items.length() as usize);
            for (i, item) in items.iter().enumerate() {
                let at = format!("failIfEventsMatch[{i}]");
                checked.push(QueryItem::new(&at, list(&item, "types"), list(&item, "tags"))?);
            }
            Query::items("failIfEventsMatch", checked)?
        }
    };
    let after = get(js, "after");
    let after = if after.is_undefined() { None } else { Some(Position(num(js, "after")?)) };
    Ok(AppendCondition { fail_if_events_match, after })
}

fn pending_from_js(js: &JsValue) -> Result<PendingCondition> {
    Ok(PendingCondition {
        local: condition_from_js(js)?,
        events: ids_from_js(&get(js, "events"))?,
        server_after: Position(num(js, "serverAfter")?),
        known: ids_from_js(&get(js, "known"))?,
    })
}

/// Saves `condition` (keyed by its first event), inside `tx` (with `meta`).
pub(super) fn save(tx: &Transaction, condition: &PendingCondition) -> Result<()> {
    let Some(anchor) = condition.events.first() else {
        return Err(Error::invalid("condition", "a conditional append has events"));
    };
    let js: Object = condition_to_js(&condition.local).unchecked_into();
    glue::set(&js, "events", ids_to_js(&condition.events));
    glue::set(&js, "serverAfter", condition.server_after.as_f64().into());
    glue::set(&js, "known", ids_to_js(&condition.known));
    tx.store(META)?.put_with_key(&js, &key(anchor)).map_err(js_error)?;
    Ok(())
}

/// The condition anchored at `anchor`, if any, inside `tx`.
pub(super) async fn load(tx: &Transaction, anchor: &EventId) -> Result<Option<PendingCondition>> {
    let record = request(tx.store(META)?.get(&key(anchor)))?.await?;
    if record.is_undefined() {
        return Ok(None);
    }
    pending_from_js(&record).map(Some)
}

/// Every saved condition, inside `tx`.
pub(super) async fn load_all(tx: &Transaction) -> Result<Vec<PendingCondition>> {
    let range = IdbKeyRange::bound(&PREFIX.into(), &PREFIX_END.into()).map_err(js_error)?;
    let records: Array = request(tx.store(META)?.get_all_with_key(&range))?.await?.unchecked_into();
    records.iter().map(|r| pending_from_js(&r)).collect()
}

/// Deletes the condition anchored at `anchor` (none: nothing happens), inside `tx`.
pub(super) fn delete(tx: &Transaction, anchor: &EventId) -> Result<()> {
    tx.store(META)?.delete(&key(anchor)).map_err(js_error)?;
    Ok(())
}

/// The feed position the device has pulled through (`meta["feed"].position`), inside
/// `tx`: what a decision taken now has seen of the server.
pub(super) async fn pulled_through(tx: &Transaction) -> Result<Position> {
    let cursor = request(tx.store(META)?.get(&FEED_KEY.into()))?.await?;
    Ok(Position(version_field(&cursor, "position")?))
}
