//! What every JS object of one open store shares ([`Shared`]): the [`Backend`], the live
//! subscriptions, the cross-tab channel, the replay state, a hook to the sync driver and
//! the `closed` listeners; this process's open file stores, which `deleteStore` closes
//! itself (`Shared::open_here`).

use std::cell::{Cell, RefCell};
#[cfg(any(feature = "memory", feature = "file"))]
use std::collections::HashMap;
use std::rc::Rc;
#[cfg(feature = "file")]
use std::rc::Weak;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::BroadcastChannel;

use super::backend::Backend;
use super::errors::to_js;
use super::input::JsResult;
pub(super) use super::listeners::Listeners;
use super::subscribe::{self, Subscriptions};
use crate::error::Error;
use crate::event::Position;
use crate::web::glue;

/// Why a store closed (the `closed` event's `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CloseReason {
    /// `close()`.
    Close,
    /// `deleteStore`, in this tab or another (or any delete of its IndexedDB database).
    Deleted,
    /// Another tab upgraded the database's schema.
    VersionChange,
}

impl CloseReason {
    fn as_str(self) -> &'static str {
        match self {
            CloseReason::Close => "close",
            CloseReason::Deleted => "deleted",
            CloseReason::VersionChange => "versionchange",
        }
    }
}

#[cfg(feature = "file")]
thread_local! {
    /// This process's open file stores by directory: what `deleteStore` closes itself
    /// (the lock would refuse it; IndexedDB stores hear a delete from the database).
    static OPEN_HERE: RefCell<Vec<(String, Weak<Shared>)>> = RefCell::default();
}

/// The `closed` event in [`Listeners`].
pub(super) const CLOSED_EVENT: u8 = 0;

/// The sync side of a store that syncs, as the store sees it: two functions the sync side
/// handed over when it started (`sync/link.rs`; in the browser package it is another wasm
/// instance, so the store knows it only through JS).
pub(super) struct SyncHook {
    /// Something changed (an append, another tab's commit): push or refresh the status.
    pub(super) changed: Function,
    /// The store is closing: stop every trigger and timer, close the sync side's connection.
    pub(super) close: Function,
}

/// Per-store state of the replay engine: the upcaster registry (a JS object the fold in
/// `js/fold.js` reads) and, for the memory and file backends, the projection snapshots.
pub(super) struct ReplayState {
    /// The upcaster registry.
    pub(super) upcasters: JsValue,
    /// Projection snapshots of a memory or file store, by projection name (not in a build
    /// with neither backend: IndexedDB keeps its snapshots in the database).
    #[cfg(any(feature = "memory", feature = "file"))]
    pub(super) snapshots: RefCell<HashMap<String, JsValue>>,
}

/// The channel's `onmessage` handler, kept alive while the store is open.
type MessageListener = Closure<dyn FnMut(JsValue)>;

/// What the JS objects of one open store share.
pub(super) struct Shared {
    pub(super) backend: Rc<Backend>,
    /// The live subscriptions and their pump (`subscribe.rs`).
    pub(super) subscriptions: Rc<Subscriptions>,
    /// `tidelog:<database name>`: every store of the database posts to it after a commit.
    channel: Option<BroadcastChannel>,
    on_message: RefCell<Option<MessageListener>>,
    /// Upcasters and in-memory snapshots of the replay engine (`replay.rs`).
    pub(super) replay: ReplayState,
    /// The sync driver, when the store was opened with a `sync` option (`sync.rs`).
    pub(super) sync: RefCell<Option<SyncHook>>,
    /// Appends refuse an event larger than this as the sync server would store it (the
    /// open option `maxEventBytes`; by default `protocol::MAX_EVENT_BYTES` when the store
    /// syncs, no limit when it does not).
    pub(super) max_event_bytes: Option<usize>,
    /// `store.on("closed", ...)`: told once, when the store closes.
    pub(super) closed_listeners: Listeners,
    /// The store closed (and `closed` was told).
    shut: Cell<bool>,
    /// The open option `retain` (`None`: the log keeps everything): applied at open, by
    /// `compact()`, and after sync rounds that moved events (throttled).
    pub(super) retain: Cell<Option<crate::store::Retention>>,
}

impl Shared {
    /// Applies the open option `retain` now (nothing without it): at open, by
    /// `compact()`, and after sync rounds that moved events.
    pub(super) async fn compact(&self) -> super::input::JsResult<crate::store::Compacted> {
        self.backend.compact(&self.retain.get().unwrap_or_default()).await
    }

    /// The shared state of a store over `backend`; IndexedDB stores listen to the other
    /// tabs' commits on the database's channel.
    pub(super) fn new(name: &str, backend: Backend, max_event_bytes: Option<usize>) -> Rc<Shared> {
        let channel = match &backend {
            Backend::IndexedDb(_) => BroadcastChannel::new(&format!("tidelog:{name}")).ok(),
            _ => None,
        };
        let shared = Rc::new(Shared {
            backend: Rc::new(backend),
            subscriptions: Rc::default(),
            channel,
            on_message: RefCell::default(),
            replay: ReplayState {
                upcasters: glue::new_upcasters(),
                #[cfg(any(feature = "memory", feature = "file"))]
                snapshots: RefCell::default(),
            },
            sync: RefCell::default(),
            max_event_bytes,
            closed_listeners: Listeners::default(),
            shut: Cell::new(false),
            retain: Cell::default(),
        });
        if let Some(db) = shared.backend.indexeddb() {
            // Deleted or upgraded by any tab: the connection closed itself; stop the rest.
            let weak = Rc::downgrade(&shared);
            db.on_version_change(move |deleted| {
                if let Some(shared) = weak.upgrade() {
                    shared.close(if deleted {
                        CloseReason::Deleted
                    } else {
                        CloseReason::VersionChange
                    });
                }
            });
        }
        if let Some(channel) = &shared.channel {
            let weak = Rc::downgrade(&shared);
            let on_message = Closure::<dyn FnMut(JsValue)>::new(move |_| {
                if let Some(shared) = weak.upgrade() {
                    // Another tab appended or synced: subscribers re-read from their
                    // cursors; the syncing tab pushes, the others refresh their status.
                    shared.wake_subscribers();
                    shared.wake_sync();
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            *shared.on_message.borrow_mut() = Some(on_message);
        }
        shared
    }

    /// Whether the store was closed.
    pub(super) fn closed(&self) -> bool {
        self.backend.closed()
    }

    /// `ClosedError` once the store is closed.
    pub(super) fn check_open(&self) -> JsResult<()> {
        if self.closed() {
            return Err(to_js(&Error::Closed));
        }
        Ok(())
    }

    /// Tells this store's subscribers and every other tab's that the log changed (the
    /// message is a hint: they re-read from their cursors).
    pub(super) fn notify_changed(self: &Rc<Self>) {
        if let Some(channel) = &self.channel {
            let _ = channel.post_message(&JsValue::from_str("changed"));
        }
        self.wake_subscribers();
    }

    /// After this store's own append: other tabs and workers re-read from their cursors
    /// (the message is a hint), this store's subscribers and the sync driver wake.
    pub(super) fn notify_appended(self: &Rc<Self>, last: Position) {
        if let Some(channel) = &self.channel {
            let _ = channel.post_message(&last.as_f64().into());
        }
        self.wake_subscribers();
        self.wake_sync();
    }

    /// Wakes the subscription pump.
    pub(super) fn wake_subscribers(&self) {
        subscribe::wake(&self.backend, &self.subscriptions);
    }

    /// Wakes the sync driver, if there is one.
    pub(super) fn wake_sync(&self) {
        let changed = self.sync.borrow().as_ref().map(|hook| hook.changed.clone());
        if let Some(changed) = changed {
            let _ = changed.call0(&JsValue::UNDEFINED);
        }
    }

    /// Registers this file store as open in this process (`dir`: its directory), for
    /// `deleteStore` to find.
    #[cfg(feature = "file")]
    pub(super) fn register_here(self: &Rc<Self>, dir: String) {
        OPEN_HERE.with_borrow_mut(|open| {
            open.retain(|(_, s)| s.upgrade().is_some_and(|s| !s.closed()));
            open.push((dir, Rc::downgrade(self)));
        });
    }

    /// This process's open file stores in `dir`.
    #[cfg(feature = "file")]
    pub(super) fn open_here(dir: &str) -> Vec<Rc<Shared>> {
        OPEN_HERE.with_borrow(|open| {
            open.iter()
                .filter(|(d, _)| d == dir)
                .filter_map(|(_, s)| s.upgrade())
                .filter(|s| !s.closed())
                .collect()
        })
    }

    /// Stops everything (the sync driver, the subscriptions, the channel, the backend)
    /// and tells the `closed` listeners `{ reason }`; once (later calls do nothing).
    pub(super) fn close(&self, reason: CloseReason) {
        if self.shut.replace(true) {
            return;
        }
        let hook = self.sync.borrow_mut().take();
        if let Some(hook) = hook {
            let _ = hook.close.call0(&JsValue::UNDEFINED);
        }
        self.subscriptions.stop_all();
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        self.on_message.borrow_mut().take();
        self.backend.close();
        let detail = js_sys::Object::new();
        glue::set(&detail, "reason", reason.as_str().into());
        self.closed_listeners.emit(CLOSED_EVENT, &detail);
    }
}
