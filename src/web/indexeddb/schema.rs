//! The database schema: [`SCHEMA_VERSION`] and the step-by-step upgrade from any older
//! version, run inside the `versionchange` transaction (all steps land or none).

use web_sys::{IdbDatabase, IdbTransaction};

use super::outbox;
use crate::error::Result;
use crate::web::convert::js_error;
use crate::web::glue;

/// The database schema version this build writes. Older databases are upgraded in
/// [`upgrade`], step by step, without losing data.
pub const SCHEMA_VERSION: u32 = 4;

/// Creates or upgrades the schema from `old_version` to [`SCHEMA_VERSION`]. Runs inside
/// the `versionchange` transaction `tx`: all steps land or none. The steps of the event
/// log's stores (1: `events`, `streams`, `meta`; 2: `snapshots`; 4: the tag and type
/// indexes) are `js/idb.js`'s `upgradeSchema`; the sync side's (3: `outbox.rs`) runs
/// after them (the steps touch different stores).
pub(super) fn upgrade(db: &IdbDatabase, tx: &IdbTransaction, old_version: u32) -> Result<()> {
    glue::upgrade_schema(db, tx, old_version).map_err(js_error)?;
    if old_version < 3 {
        outbox::create_stores(db)?;
    }
    Ok(())
}
