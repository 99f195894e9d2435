//! [`DurableObjectSql`]: the sync server's [`SqlSpace`] over a SQLite-backed Durable
//! Object's `ctx.storage` (feature `server`). The schema and every decision are plain
//! Rust in `src/server/sql/`; this adapter runs the six queries through
//! `js/do_sql.js`, synchronously (the Durable Object SQL API is), a push in one
//! `transactionSync`.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::error::{Error, Result};
use crate::server::SqlSpace;
use crate::web::do_storage::storage_error;

#[wasm_bindgen(raw_module = "./js/do_sql.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = sqlStreamVersion)]
    fn sql_stream_version(storage: &JsValue, stream: &str) -> std::result::Result<f64, JsValue>;

    #[wasm_bindgen(catch, js_name = sqlFeedHead)]
    fn sql_feed_head(storage: &JsValue) -> std::result::Result<f64, JsValue>;

    #[wasm_bindgen(catch, js_name = sqlEventsById)]
    fn sql_events_by_id(storage: &JsValue, ids: Vec<String>)
        -> std::result::Result<Array, JsValue>;

    #[wasm_bindgen(catch, js_name = sqlAppendIf)]
    fn sql_append_if(
        storage: &JsValue,
        stream: &str,
        expected: f64,
        head: f64,
        ids: Vec<String>,
        events: Vec<String>,
    ) -> std::result::Result<bool, JsValue>;

    #[wasm_bindgen(catch, js_name = sqlStreamEvents)]
    fn sql_stream_events(
        storage: &JsValue,
        stream: &str,
        after: f64,
        limit: u32,
    ) -> std::result::Result<Array, JsValue>;

    #[wasm_bindgen(catch, js_name = sqlFeedEvents)]
    fn sql_feed_events(
        storage: &JsValue,
        after: f64,
        limit: u32,
    ) -> std::result::Result<Array, JsValue>;
}

/// A count read back from SQL: a non-negative whole number (else the data is corrupt).
fn count(value: std::result::Result<f64, JsValue>) -> Result<u64> {
    let n = value.map_err(storage_error)?;
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= crate::event::MAX_SAFE_INTEGER as f64 {
        Ok(n as u64)
    } else {
        Err(Error::storage("CorruptData", "a stored version or position is not a whole number"))
    }
}

/// A version or position passed to SQL (at most 2^53 - 1, so exact as a JS number).
fn js_number(n: u64) -> f64 {
    n as f64
}

fn texts(rows: std::result::Result<Array, JsValue>) -> Result<Vec<String>> {
    rows.map_err(storage_error)?
        .iter()
        .map(|row| {
            row.as_string()
                .ok_or_else(|| Error::storage("CorruptData", "a stored event is not text"))
        })
        .collect()
}

fn limit_of(limit: usize) -> u32 {
    u32::try_from(limit).unwrap_or(u32::MAX).max(1)
}

/// [`SqlSpace`] over a SQLite-backed Durable Object's `ctx.storage` (after
/// `sqlOpen(ctx.storage)` of `js/do_sql.js` created the table).
#[derive(Debug)]
pub struct DurableObjectSql {
    storage: JsValue,
}

impl DurableObjectSql {
    /// The adapter over `storage` (a Durable Object's `ctx.storage`).
    pub fn new(storage: JsValue) -> Self {
        DurableObjectSql { storage }
    }
}

impl SqlSpace for DurableObjectSql {
    async fn stream_version(&self, stream: &str) -> Result<u64> {
        count(sql_stream_version(&self.storage, stream))
    }

    async fn feed_head(&self) -> Result<u64> {
        count(sql_feed_head(&self.storage))
    }

    async fn events_by_id(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        let found = sql_events_by_id(&self.storage, ids.to_vec()).map_err(storage_error)?;
        found
            .iter()
            .map(|row| {
                if row.is_undefined() {
                    Ok(None)
                } else {
                    row.as_string()
                        .map(Some)
                        .ok_or_else(|| Error::storage("CorruptData", "a stored event is not text"))
                }
            })
            .collect()
    }

    async fn append_if(
        &self,
        stream: &str,
        expected: u64,
        head: u64,
        rows: &[(String, String)],
    ) -> Result<bool> {
        sql_append_if(
            &self.storage,
            stream,
            js_number(expected),
            js_number(head),
            rows.iter().map(|(id, _)| id.clone()).collect(),
            rows.iter().map(|(_, json)| json.clone()).collect(),
        )
        .map_err(storage_error)
    }

    async fn stream_events(&self, stream: &str, after: u64, limit: usize) -> Result<Vec<String>> {
        texts(sql_stream_events(&self.storage, stream, js_number(after), limit_of(limit)))
    }

    async fn feed_events(&self, after: u64, limit: usize) -> Result<Vec<String>> {
        texts(sql_feed_events(&self.storage, js_number(after), limit_of(limit)))
    }
}
