//! Where a store and its sync side meet: [`start`] parses the `sync` open option, opens
//! the sync side's own IndexedDB connection and starts the [`Driver`]; [`Link`] is the
//! store as the driver sees it.
//!
//! The two talk only through JS functions, both ways: the store hands over `changed`
//! and `compact`, the sync side `changed` and `close` (the store's `SyncHook`). So the
//! same code serves the browser package, where the sync side is a wasm instance of its
//! own (`startSync`, loaded by the first store opened with `sync`), and every other
//! build, where store and sync side share one instance.

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::config::parse_config;
use super::{Driver, JsSync};
use crate::bindings::errors::{invalid, to_js};
use crate::bindings::input::JsResult;
use crate::web::glue::{get, set};
use crate::web::indexeddb::{Durability, IndexedDbStore};

/// The store as its sync side sees it.
pub(in crate::bindings) struct Link {
    /// The sync side's own connection to the store's database (the outbox, the lists).
    pub(super) db: IndexedDbStore,
    /// The store's `changed()`: its subscribers and the other tabs re-read.
    changed: Function,
    /// The store's retention (`compact()`, a promise), when it was opened with `retain`.
    compact: Option<Function>,
    /// The store's `maxEventBytes` (events that settle a conflict are checked against it).
    pub(super) max_event_bytes: Option<usize>,
    /// The store's open created its database (a new device, or evicted or deleted data).
    pub(super) created: bool,
}

impl Link {
    /// Tells the store that the sync side changed its log.
    pub(super) fn changed(&self) {
        let _ = self.changed.call0(&JsValue::UNDEFINED);
    }

    /// Whether the store keeps less than everything (the open option `retain`).
    pub(super) fn retains(&self) -> bool {
        self.compact.is_some()
    }

    /// Applies the store's retention now.
    pub(super) async fn compact(&self) -> Result<(), JsValue> {
        if let Some(compact) = &self.compact {
            let promise: Promise = compact.call0(&JsValue::UNDEFINED)?.unchecked_into();
            JsFuture::from(promise).await?;
        }
        Ok(())
    }
}

/// Starts the sync side of the store `name`. `options`: the `sync` open option; `store`:
/// `{ changed, compact, maxEventBytes, durability, created }` (`compact` only with
/// `retain`). Resolves to `{ sync, changed, close }`: the `Sync`
/// object (`store.sync`) and the store's two calls into it.
pub(in crate::bindings) async fn start(
    name: &str,
    options: &JsValue,
    store: &JsValue,
) -> JsResult<JsValue> {
    let Some(config) = parse_config(options)? else {
        return Err(invalid("options.sync", "must be an object like { url }"));
    };
    let changed: Function = get(store, "changed").unchecked_into();
    let compact = get(store, "compact").dyn_into::<Function>().ok();
    let max_event_bytes = get(store, "maxEventBytes").as_f64().map(|n| n as usize);
    let durability = get(store, "durability")
        .as_string()
        .and_then(|d| Durability::parse(&d))
        .unwrap_or_default();
    let db = IndexedDbStore::open(name, durability).await.map_err(|e| to_js(&e))?;
    let created = get(store, "created").is_truthy();
    let link = Link { db, changed, compact, max_event_bytes, created };
    let driver = Driver::start(link, name, config);
    // Deleted or upgraded by any tab: the connection closed itself; stop the rest (the
    // store hears it on its own connection too, and closes).
    let weak = std::rc::Rc::downgrade(&driver);
    driver.link.db.on_version_change(move |_| {
        if let Some(driver) = weak.upgrade() {
            driver.stop();
        }
    });
    let answer = Object::new();
    set(&answer, "sync", JsSync::new(driver.clone()).into());
    let woken = driver.clone();
    let wake = Closure::<dyn Fn()>::new(move || woken.wake());
    set(&answer, "changed", wake.into_js_value());
    let close = Closure::<dyn Fn()>::new(move || driver.stop());
    set(&answer, "close", close.into_js_value());
    Ok(answer.into())
}

/// `startSync(name, options, store)`: [`start`], exported by the browser package's sync
/// wasm (the client's wasm calls it through `js/util.js`'s `loadSyncModule`). Not part
/// of the public API.
#[cfg(not(feature = "client"))]
#[wasm_bindgen(js_name = startSync, skip_typescript)]
pub async fn start_sync(name: String, options: JsValue, store: JsValue) -> JsResult<JsValue> {
    start(&name, &options, &store).await
}

/// `checkSync(options)`: the `sync` option's check ([`parse_config`]), exported by the
/// browser package's sync wasm. The client's wasm has no copy of it: `open` loads the sync
/// wasm and calls this before its database opens. Not part of the public API.
#[cfg(not(feature = "client"))]
#[wasm_bindgen(js_name = checkSync, skip_typescript)]
pub fn check_sync(options: JsValue) -> JsResult<()> {
    parse_config(&options).map(drop)
}
