//! Retention over IndexedDB: one readwrite transaction over `events`, `streams` and
//! `meta` reads what is held (`js/retention.js`), lets the pure rule
//! ([`crate::store::retention::new_floor`]) pick the new floor, deletes the events below
//! it and records it in `meta["floor"]`. Reads look the floor up in their own transaction
//! ([`IndexedDbStore::floor_in`]; `meta["floor"]` = `{position}`), so a compaction in
//! another tab is seen at once.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{IndexedDbStore, EVENTS, META, STREAMS};
use crate::error::Result;
use crate::event::Position;
use crate::store::retention::{new_floor, Compacted, Held, Retention};
use crate::web::convert::js_error;
use crate::web::glue;
use crate::web::idb::Transaction;

/// The numbers of a JS array (0 where missing); -1 means none.
pub(super) fn numbers<const N: usize>(array: &js_sys::Array) -> [f64; N] {
    std::array::from_fn(|i| array.get(i as u32).as_f64().unwrap_or(0.0))
}

fn maybe(n: f64) -> Option<Position> {
    (n >= 1.0).then_some(Position(n as u64))
}

/// Picks the new floor from what is held ([`new_floor`]) and starts dropping below it.
#[inline(never)]
fn drop_below(
    tx: &Transaction,
    retention: &Retention,
    held: JsValue,
) -> Result<(Position, js_sys::Promise)> {
    let [floor, next, nth, young, pending] = numbers(held.unchecked_ref());
    let held = Held {
        floor: Position(floor as u64),
        next: Position(next as u64),
        nth_newest: maybe(nth),
        first_young: maybe(young),
        oldest_pending: maybe(pending),
    };
    let floor = new_floor(retention, &held);
    let drop = glue::retention_drop(
        &tx.store(EVENTS)?,
        &tx.store(META)?,
        held.floor.as_f64(),
        floor.as_f64(),
    );
    Ok((floor, drop))
}

impl IndexedDbStore {
    /// Applies `retention` in one readwrite transaction (see the module docs).
    pub async fn compact_now(&self, retention: &Retention) -> Result<Compacted> {
        let tx = self.begin(&[EVENTS, STREAMS, META], true)?;
        let held = JsFuture::from(self.ask_held(&tx, retention)?).await.map_err(js_error)?;
        let (floor, drop) = drop_below(&tx, retention, held)?;
        let dropped = JsFuture::from(drop).await.map_err(js_error)?;
        tx.commit().await?;
        Ok(Compacted { dropped: dropped.as_f64().unwrap_or(0.0) as u64, from: floor })
    }

    /// Asks `js/retention.js` what is held (outlined: the future keeps only the awaits).
    #[inline(never)]
    fn ask_held(&self, tx: &Transaction, retention: &Retention) -> Result<js_sys::Promise> {
        let young_after = retention.ms.map_or(-1.0, |ms| {
            crate::env::Environment::now_ms(&self.env).saturating_sub(ms) as f64
        });
        Ok(glue::retention_held(
            &tx.store(EVENTS)?,
            &tx.store(STREAMS)?,
            &tx.store(META)?,
            retention.events.unwrap_or(0) as f64,
            young_after,
            retention.keep_pending,
        ))
    }

    /// The floor as `tx` (which covers `meta`) sees it.
    pub(super) async fn floor_in(&self, tx: &Transaction) -> Result<Position> {
        let floor = JsFuture::from(glue::read_floor(&tx.store(META)?)).await.map_err(js_error)?;
        Ok(Position(floor.as_f64().unwrap_or(1.0) as u64))
    }
}
