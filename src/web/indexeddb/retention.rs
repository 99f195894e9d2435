//! Retention over IndexedDB: one readwrite transaction over `events`, `streams` and
//! `meta` reads what is held (`js/retention.js`), lets the pure rule
//! ([`crate::store::retention::new_floor`]) pick the new floor, deletes the events below
//! it and records it in `meta["floor"]`. Reads look the floor up in their own transaction
//! ([`IndexedDbStore::floor_in`]), so a compaction in another tab is seen at once.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::{IndexedDbStore, EVENTS, META, STREAMS};
use crate::error::Result;
use crate::event::Position;
use crate::store::retention::{new_floor, Compacted, Held, Retention};
use crate::web::convert::{js_error, version_field};
use crate::web::glue;
use crate::web::idb::{request, Transaction};

/// Key of the floor record in `meta`: `{position}`, the lowest position still held.
pub(crate) const FLOOR_KEY: &str = "floor";

/// A position field that may be `null`.
fn maybe(record: &JsValue, key: &str) -> Result<Option<Position>> {
    let value = crate::web::glue::get(record, key);
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    Ok(Some(Position(version_field(record, key)?)))
}

impl IndexedDbStore {
    /// Applies `retention` in one readwrite transaction (see the module docs).
    pub async fn compact_now(&self, retention: &Retention) -> Result<Compacted> {
        let tx = self.begin(&[EVENTS, STREAMS, META], true)?;
        let (events, meta) = (tx.store(EVENTS)?, tx.store(META)?);
        let young_after = retention.ms.map_or(-1.0, |ms| {
            crate::env::Environment::now_ms(&self.env).saturating_sub(ms) as f64
        });
        let held = glue::retention_held(
            &events,
            &tx.store(STREAMS)?,
            &meta,
            retention.events.unwrap_or(0) as f64,
            young_after,
            retention.keep_pending,
        );
        let held = JsFuture::from(held).await.map_err(js_error)?;
        let held = Held {
            floor: Position(version_field(&held, "floor")?),
            next: Position(version_field(&held, "next")?),
            nth_newest: maybe(&held, "nthNewest")?,
            first_young: maybe(&held, "firstYoung")?,
            oldest_pending: maybe(&held, "oldestPending")?,
        };
        let floor = new_floor(retention, &held);
        let drop = glue::retention_drop(&events, &meta, held.floor.as_f64(), floor.as_f64());
        let dropped = JsFuture::from(drop).await.map_err(js_error)?;
        tx.commit().await?;
        Ok(Compacted { dropped: dropped.as_f64().unwrap_or(0.0) as u64, from: floor })
    }

    /// The floor as `tx` (which covers `meta`) sees it.
    pub(super) async fn floor_in(&self, tx: &Transaction) -> Result<Position> {
        let record = request(tx.store(META)?.get(&FLOOR_KEY.into()))?.await?;
        Ok(Position(version_field(&record, "position")?.max(1)))
    }
}
