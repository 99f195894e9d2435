//! Query reads and append conditions over the `by_tag` (multiEntry on `tags`) and
//! `by_type` indexes (schema 4). Per query item, the keys (positions) under each of its
//! tags are fetched and intersected, or, without tags, the keys under each of its types
//! united; only those records are read and checked against the whole query. So the cost
//! follows the events carrying the item's tags (or types), not the log.

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbKeyRange;

use super::{IndexedDbStore, BY_TAG, BY_TYPE, EVENTS};
use crate::error::Result;
use crate::event::{EventType, Position};
use crate::query::{merge_ascending, Query, QueryOptions};
use crate::web::convert::{js_error, string_field, tags_field};
use crate::web::idb::{request, Transaction};

/// Whether a stored record matches `query` (its type and tags only are read).
fn record_matches(query: &Query, record: &JsValue) -> Result<bool> {
    let event_type = EventType::new(string_field(record, "type")?)?;
    Ok(query.matches(&event_type, &tags_field(record)?))
}

/// Sorted keys as positions (IndexedDB hands keys back as JS numbers).
fn keys(array: &JsValue) -> Vec<u64> {
    array.unchecked_ref::<Array>().iter().filter_map(|k| k.as_f64()).map(|k| k as u64).collect()
}

/// The intersection of ascending lists: the shortest, kept where every other has the key.
fn intersect(mut lists: Vec<Vec<u64>>) -> Vec<u64> {
    let shortest = (0..lists.len()).min_by_key(|&i| lists[i].len()).unwrap_or(0);
    if lists.is_empty() {
        return Vec::new();
    }
    let mut out = lists.swap_remove(shortest);
    out.retain(|k| lists.iter().all(|other| other.binary_search(k).is_ok()));
    out
}

/// The records matching `query` at positions from `first` on, ascending, inside `tx`
/// (read-only for queries; the append's readwrite transaction for conditions). `stop_at_first`:
/// only the first match is wanted.
pub(super) async fn matching_records(
    tx: &Transaction,
    query: &Query,
    first: Position,
    stop_at_first: bool,
) -> Result<Vec<JsValue>> {
    let events = tx.store(EVENTS)?;
    let first = first.0.max(1);
    let items = match query {
        Query::All => {
            let range = IdbKeyRange::lower_bound(&(first as f64).into()).map_err(js_error)?;
            let made = if stop_at_first {
                events.get_all_with_key_and_limit(&range, 1)
            } else {
                events.get_all_with_key(&range)
            };
            let records: Array = request(made)?.await?.unchecked_into();
            return Ok(records.iter().collect());
        }
        Query::Items(items) => items,
    };
    let (by_tag, by_type) =
        (events.index(BY_TAG).map_err(js_error)?, events.index(BY_TYPE).map_err(js_error)?);
    // Every key request is issued before any is awaited.
    let mut pending = Vec::with_capacity(items.len());
    for item in items {
        let (index, values): (_, Vec<&str>) = if item.tags().is_empty() {
            (&by_type, item.types().iter().map(|t| t.as_str()).collect())
        } else {
            (&by_tag, item.tags().iter().map(|t| t.as_str()).collect())
        };
        let mut requests = Vec::with_capacity(values.len());
        for value in values {
            requests.push(request(index.get_all_keys_with_key(&JsValue::from_str(value)))?);
        }
        pending.push((item.tags().is_empty(), requests));
    }
    let mut candidates = Vec::new();
    for (by_types, requests) in pending {
        let mut lists = Vec::with_capacity(requests.len());
        for r in requests {
            lists.push(keys(&r.await?));
        }
        if by_types {
            for list in lists {
                candidates = merge_ascending(candidates, &list);
            }
        } else {
            candidates = merge_ascending(candidates, &intersect(lists));
        }
    }
    candidates.retain(|&k| k >= first);
    let mut gets = Vec::with_capacity(candidates.len());
    for key in candidates {
        gets.push(request(events.get(&(key as f64).into()))?);
    }
    let mut found = Vec::new();
    for get in gets {
        let record = get.await?;
        if !record.is_undefined() && record_matches(query, &record)? {
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
        let tx = self.begin(&[EVENTS], false)?;
        self.count_read(0);
        let first = Position(options.after.map_or(0, |a| a.0).saturating_add(1));
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
