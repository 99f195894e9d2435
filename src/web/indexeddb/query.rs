//! Query reads and append conditions over the `by_tag` (multiEntry on `tags`) and
//! `by_type` indexes (schema 4). The index walk is JS (`js/idb.js`,
//! `candidateRecords`: per query item, the keys under each of its tags intersected, or
//! without tags the keys under each of its types united; only those records read), so the
//! cost follows the events carrying the item's tags (or types), not the log; whether a
//! candidate matches the whole query is decided here, by [`Query::matches`].

use js_sys::{Array, Object, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{IndexedDbStore, EVENTS};
use crate::error::Result;
use crate::event::{EventType, Position};
use crate::query::{Query, QueryOptions};
use crate::web::convert::{js_error, set, string_field, tags_field};
use crate::web::glue;
use crate::web::idb::Transaction;

/// Whether a stored record matches `query` (its type and tags only are read).
fn record_matches(query: &Query, record: &JsValue) -> Result<bool> {
    let event_type = EventType::new(string_field(record, "type")?)?;
    Ok(query.matches(&event_type, &tags_field(record)?))
}

/// A query's items as `candidateRecords` takes them (`null`: every event).
fn items_to_js(query: &Query) -> Result<JsValue> {
    let Query::Items(items) = query else { return Ok(JsValue::NULL) };
    let list = Array::new();
    for item in items {
        let js = Object::new();
        let strings = |values: &mut dyn Iterator<Item = &str>| -> Array {
            values.map(JsValue::from_str).collect()
        };
        set(&js, "types", &strings(&mut item.types().iter().map(|t| t.as_str())))?;
        set(&js, "tags", &strings(&mut item.tags().iter().map(|t| t.as_str())))?;
        list.push(&js);
    }
    Ok(list.into())
}

/// The records matching `query` at positions from `first` on, ascending, inside `tx`
/// (read-only for queries; the append's readwrite transaction for conditions).
/// `stop_at_first`: only the first match is wanted.
pub(super) async fn matching_records(
    tx: &Transaction,
    query: &Query,
    first: Position,
    stop_at_first: bool,
) -> Result<Vec<JsValue>> {
    // The async part is one await; the rest lives in plain functions so that the three
    // callers' futures (query, append, sync's re-check) do not each carry a copy.
    let promise = candidates(tx, query, first, stop_at_first)?;
    let candidates = JsFuture::from(promise).await.map_err(js_error)?;
    keep_matching(query, candidates.unchecked_into(), stop_at_first)
}

#[inline(never)]
fn candidates(
    tx: &Transaction,
    query: &Query,
    first: Position,
    stop_at_first: bool,
) -> Result<Promise> {
    Ok(glue::candidate_records(
        &tx.store(EVENTS)?,
        &items_to_js(query)?,
        first.0.max(1) as f64,
        stop_at_first,
    ))
}

#[inline(never)]
fn keep_matching(query: &Query, candidates: Array, stop_at_first: bool) -> Result<Vec<JsValue>> {
    let mut found = Vec::new();
    for record in candidates.iter() {
        if record_matches(query, &record)? {
            found.push(record);
            if stop_at_first {
                break;
            }
        }
    }
    Ok(found)
}

impl IndexedDbStore {
    /// The records matching `query` (the public event shape), in position order or
    /// newest first, after `options.after`, at most `options.limit`.
    pub async fn query_records(&self, query: &Query, options: QueryOptions) -> Result<Array> {
        let tx = self.begin(&[EVENTS, super::META], false)?;
        let floor = self.floor_in(&tx).await?;
        let start = options.after.map(|a| Position(a.0.saturating_add(1)));
        let first = crate::store::retention::check_from(floor, start)?;
        self.count_read(0);
        let mut records = matching_records(&tx, query, first, false).await?;
        if options.backwards {
            records.reverse();
        }
        records.truncate(options.limit);
        let out: Array = records.into_iter().collect();
        self.count_read(out.length());
        Ok(out)
    }
}
