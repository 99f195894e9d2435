//! The `snapshots` object store (schema version 2): persisted projection snapshots
//! `{name, state, position, version, moves, savedAt}` (built by `snapshotRecord`), keyed
//! by projection name. The state is stored by structured clone, so a state that cannot be
//! cloned is refused with an `InvalidInputError` naming it, and nothing is written.

use wasm_bindgen::JsValue;

use super::IndexedDbStore;
use crate::error::{Error, Result};
use crate::event::Position;
use crate::web::convert::js_error;
use crate::web::glue;
use crate::web::idb::request;

const SNAPSHOTS: &str = "snapshots";

impl IndexedDbStore {
    /// The stored snapshot record of projection `name`, or `undefined`.
    pub async fn load_snapshot(&self, name: &str) -> Result<JsValue> {
        let tx = self.begin(&[SNAPSHOTS], false)?;
        request(tx.store(SNAPSHOTS)?.get(&JsValue::from_str(name)))?.await
    }

    /// Stores (replacing) the snapshot of projection `name`: `state` as of global
    /// `position`, for projection `version`, reflecting the log's moves up to epoch
    /// `moves` (see `outbox.rs`). Resolves once committed.
    pub async fn save_snapshot(
        &self,
        name: &str,
        state: &JsValue,
        position: Position,
        version: u32,
        moves: u64,
    ) -> Result<()> {
        let tx = self.begin(&[SNAPSHOTS], true)?;
        let record = glue::snapshot_record(name, state, position.as_f64(), version, moves as f64);
        if let Err(e) = tx.store(SNAPSHOTS)?.put(&record) {
            tx.abort();
            return Err(match js_error(e) {
                Error::Storage { name: kind, message } if kind == "DataCloneError" => Error::invalid(
                    "state",
                    format!(
                        "projection \"{name}\": the state cannot be stored as a snapshot \
                         (it must be structured-cloneable: no functions, DOM nodes or symbols): {message}"
                    ),
                ),
                other => other,
            });
        }
        tx.commit().await
    }

    /// Deletes the snapshot of projection `name` (nothing happens when there is none).
    pub async fn delete_snapshot(&self, name: &str) -> Result<()> {
        let tx = self.begin(&[SNAPSHOTS], true)?;
        tx.store(SNAPSHOTS)?.delete(&JsValue::from_str(name)).map_err(js_error)?;
        tx.commit().await
    }
}
