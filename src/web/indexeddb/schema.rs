//! The database schema's version. The step-by-step upgrade from any older version is
//! `js/idb.js`'s `upgradeSchema`, run by its `openDatabase` inside the `versionchange`
//! transaction (all steps land or none).

/// The database schema version this build writes. Older databases are upgraded step by
/// step (`js/idb.js`'s `upgradeSchema`), without losing data.
pub const SCHEMA_VERSION: u32 = 4;
