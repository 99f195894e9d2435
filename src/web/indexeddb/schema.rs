//! The database schema: [`SCHEMA_VERSION`] and the step-by-step upgrade from any older
//! version, run inside the `versionchange` transaction (all steps land or none).

use js_sys::Array;
use wasm_bindgen::JsValue;
use web_sys::{IdbDatabase, IdbIndexParameters, IdbObjectStoreParameters, IdbTransaction};

use super::{outbox, snapshots, BY_ID, BY_STREAM, BY_TAG, BY_TYPE, EVENTS, META, STREAMS};
use crate::error::Result;
use crate::web::convert::js_error;

/// The database schema version this build writes. Older databases are upgraded in
/// [`upgrade`], step by step, without losing data.
pub const SCHEMA_VERSION: u32 = 4;

/// Creates or upgrades the schema from `old_version` to [`SCHEMA_VERSION`], one step at a
/// time. Runs inside the `versionchange` transaction `tx`: all steps land or none.
pub(super) fn upgrade(db: &IdbDatabase, tx: &IdbTransaction, old_version: u32) -> Result<()> {
    if old_version < 1 {
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&"position".into());
        let events =
            db.create_object_store_with_optional_parameters(EVENTS, &params).map_err(js_error)?;
        let unique = IdbIndexParameters::new();
        unique.set_unique(true);
        let stream_version: Array =
            ["stream", "version"].iter().map(|s| JsValue::from_str(s)).collect();
        events
            .create_index_with_str_sequence_and_optional_parameters(
                BY_STREAM,
                &stream_version,
                &unique,
            )
            .map_err(js_error)?;
        events
            .create_index_with_str_and_optional_parameters(BY_ID, "id", &unique)
            .map_err(js_error)?;
        let params = IdbObjectStoreParameters::new();
        params.set_key_path(&"stream".into());
        db.create_object_store_with_optional_parameters(STREAMS, &params).map_err(js_error)?;
        db.create_object_store(META).map_err(js_error)?;
    }
    if old_version < 2 {
        snapshots::create_store(db)?;
    }
    if old_version < 3 {
        outbox::create_stores(db)?;
    }
    if old_version < 4 {
        // Query reads and append conditions: every tag of an event (multiEntry), and its
        // type. Existing events are indexed by the upgrade itself (they carry no tags).
        let events = tx.object_store(EVENTS).map_err(js_error)?;
        let multi = IdbIndexParameters::new();
        multi.set_multi_entry(true);
        events
            .create_index_with_str_and_optional_parameters(BY_TAG, "tags", &multi)
            .map_err(js_error)?;
        events.create_index_with_str(BY_TYPE, "type").map_err(js_error)?;
    }
    Ok(())
}
