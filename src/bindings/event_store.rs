//! The `EventStore` JS class: open, append, read, readAll, version, streams, subscribe,
//! metrics, close.
//!
//! Live subscriptions: each subscriber keeps a cursor (the next position it wants). A
//! single "pump" task reads the log from the lowest cursor in pages and hands each event
//! to every subscriber whose cursor it reaches, so delivery is in position order, never
//! twice, and never skips an event, whoever wrote it. The pump is woken by this store's
//! own appends and, across tabs and workers, by a `BroadcastChannel` named
//! `tidelog:<database name>` that every store of the database posts to after a commit.

use crate::bindings::js::set;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

use super::errors::{invalid, to_js};
use super::input::{self, JsResult};
use super::js;
use crate::error::Error;
use crate::event::{AppendResult, Event, NewEvent, Position};
use crate::store::indexeddb::{event_record, Durability, IndexedDbStore, JsBatch};
use crate::store::{EventStore as _, MemoryStore, Metrics};

/// Events read per page by the subscription pump.
const PUMP_PAGE: usize = 256;

pub(super) enum Backend {
    IndexedDb(IndexedDbStore),
    Memory(MemoryStore<JsValue>),
}

struct Subscription {
    callback: Function,
    active: Rc<Cell<bool>>,
    /// Next position this subscriber wants; `None` until the pump reads the head.
    cursor: Cell<Option<Position>>,
}

pub(super) struct Shared {
    pub(super) backend: Backend,
    subscriptions: RefCell<Vec<Rc<Subscription>>>,
    pumping: Cell<bool>,
    woken: Cell<bool>,
    channel: Option<BroadcastChannel>,
    on_message: RefCell<Option<Closure<dyn FnMut(MessageEvent)>>>,
    /// Upcasters and in-memory snapshots of the replay engine (`replay.rs`).
    pub(super) replay: super::replay::ReplayState,
    /// The sync driver, when the store was opened with a `sync` option (`sync.rs`).
    pub(super) sync: RefCell<Option<Rc<super::sync::Driver>>>,
}

/// An append-only event log: IndexedDB in browsers, memory elsewhere.
#[wasm_bindgen]
pub struct EventStore {
    pub(super) shared: Rc<Shared>,
    pub(super) name: String,
}

fn append_result_to_js(result: &AppendResult) -> JsValue {
    let js = Object::new();
    set(&js, "stream", result.stream.as_str().into());
    set(&js, "firstVersion", result.first_version.as_f64().into());
    set(&js, "lastVersion", result.last_version.as_f64().into());
    set(&js, "firstPosition", result.first_position.as_f64().into());
    set(&js, "lastPosition", result.last_position.as_f64().into());
    js.into()
}

fn metrics_to_js(m: Metrics) -> JsValue {
    let js = Object::new();
    set(&js, "appends", (m.appends as f64).into());
    set(&js, "eventsWritten", (m.events_written as f64).into());
    set(&js, "bytesWritten", (m.bytes_written as f64).into());
    set(&js, "idempotentAppends", (m.idempotent_appends as f64).into());
    set(&js, "conflicts", (m.conflicts as f64).into());
    set(&js, "reads", (m.reads as f64).into());
    set(&js, "eventsRead", (m.events_read as f64).into());
    js.into()
}

/// A memory-store event as the same record shape IndexedDB stores, with its payloads
/// cloned so a reader cannot change the stored event.
fn memory_record(event: &Event<JsValue>) -> JsResult<JsValue> {
    let data = js::clone_value(&event.data)?;
    let meta = event.meta.as_ref().map(js::clone_value).transpose()?;
    let record = event_record(
        &event.id,
        &event.stream.as_str().into(),
        event.version,
        event.position,
        &event.event_type,
        &data,
        meta.as_ref(),
        &(event.recorded_at as f64).into(),
        event.schema,
    )
    .map_err(|e| to_js(&e))?;
    Ok(record.into())
}

pub(super) fn memory_records(events: &[Event<JsValue>]) -> JsResult<Array> {
    events.iter().map(memory_record).collect()
}

impl Shared {
    pub(super) async fn read_all(&self, from: Position, limit: usize) -> Result<Array, JsValue> {
        match &self.backend {
            Backend::IndexedDb(db) => db.read_all_records(from, limit).await.map_err(|e| to_js(&e)),
            Backend::Memory(m) => memory_records(&m.read_all(from, limit).await.map_err(|e| to_js(&e))?),
        }
    }

    async fn head_position(&self) -> Result<Position, JsValue> {
        match &self.backend {
            Backend::IndexedDb(db) => db.head_position().await.map_err(|e| to_js(&e)),
            Backend::Memory(m) => m.head_position().map_err(|e| to_js(&e)),
        }
    }

    /// Tells this store's subscribers and every other tab's that the log changed.
    pub(super) fn notify_changed(self: &Rc<Self>) {
        if let Some(channel) = &self.channel {
            let _ = channel.post_message(&JsValue::from_str("changed"));
        }
        wake(self);
    }

    pub(super) fn closed(&self) -> bool {
        match &self.backend {
            Backend::IndexedDb(db) => db.is_closed(),
            Backend::Memory(m) => m.is_closed(),
        }
    }
}

/// Wakes the subscription pump (coalescing: a wake during a pump run causes one more run).
fn wake(shared: &Rc<Shared>) {
    if shared.subscriptions.borrow().is_empty() {
        return;
    }
    shared.woken.set(true);
    if shared.pumping.replace(true) {
        return;
    }
    let shared = shared.clone();
    wasm_bindgen_futures::spawn_local(async move {
        while shared.woken.replace(false) {
            if let Err(error) = pump(&shared).await {
                if shared.closed() {
                    break;
                }
                // Surface, never swallow: the next wake retries from the same cursors.
                web_sys::console::error_2(&"tidelog: subscription delivery failed".into(), &error);
            }
        }
        shared.pumping.set(false);
    });
}

async fn pump(shared: &Rc<Shared>) -> Result<(), JsValue> {
    loop {
        let subscriptions: Vec<Rc<Subscription>> = {
            let mut all = shared.subscriptions.borrow_mut();
            all.retain(|s| s.active.get());
            all.clone()
        };
        if subscriptions.is_empty() || shared.closed() {
            return Ok(());
        }
        if subscriptions.iter().any(|s| s.cursor.get().is_none()) {
            let next = shared.head_position().await?.next().map_err(|e| to_js(&e))?;
            for s in &subscriptions {
                if s.cursor.get().is_none() {
                    s.cursor.set(Some(next));
                }
            }
        }
        let from = subscriptions.iter().filter_map(|s| s.cursor.get()).min().unwrap_or_default();
        let page = shared.read_all(from, PUMP_PAGE).await?;
        for record in page.iter() {
            let position = Reflect::get(&record, &"position".into())?.as_f64().unwrap_or(0.0) as u64;
            for s in &subscriptions {
                if s.active.get() && s.cursor.get().is_some_and(|c| c.0 <= position) {
                    s.cursor.set(Some(Position(position + 1)));
                    js::deliver(&s.callback, &record);
                }
            }
        }
        if (page.length() as usize) < PUMP_PAGE {
            return Ok(());
        }
    }
}

#[wasm_bindgen]
impl EventStore {
    /// Opens (or creates) the event store `name`.
    ///
    /// Options: `storage`: `"auto"` (default: IndexedDB where the host has it, memory
    /// elsewhere), `"indexeddb"` or `"memory"`; `durability`: `"default"`, `"relaxed"` or
    /// `"strict"` (IndexedDB's transaction durability for appends).
    pub async fn open(name: JsValue, options: JsValue) -> Result<EventStore, JsValue> {
        let name = input::string(&name, "name")?;
        if name.is_empty() || name.len() > 256 {
            return Err(invalid("name", "must be 1 to 256 bytes long"));
        }
        let options = input::options(&options, "options", &["storage", "durability", "sync"])?;
        let options = options.as_ref();
        let durability = match input::get(options, "durability")?.map(|v| v.as_string()) {
            None => Durability::Default,
            Some(Some(d)) if d == "default" => Durability::Default,
            Some(Some(d)) if d == "relaxed" => Durability::Relaxed,
            Some(Some(d)) if d == "strict" => Durability::Strict,
            Some(_) => return Err(invalid("options.durability", "must be \"default\", \"relaxed\" or \"strict\"")),
        };
        let sync_config = match input::get(options, "sync")? {
            Some(value) => super::sync::parse_config(&value)?,
            None => None,
        };
        let has_indexeddb = Reflect::get(&js_sys::global(), &"indexedDB".into())
            .map(|f| !f.is_undefined() && !f.is_null())
            .unwrap_or(false);
        let storage = input::get(options, "storage")?.map(|v| v.as_string());
        let backend = match storage {
            None => {
                if has_indexeddb {
                    Backend::IndexedDb(IndexedDbStore::open(&name, durability).await.map_err(|e| to_js(&e))?)
                } else {
                    Backend::Memory(MemoryStore::new())
                }
            }
            Some(Some(s)) if s == "auto" => {
                if has_indexeddb {
                    Backend::IndexedDb(IndexedDbStore::open(&name, durability).await.map_err(|e| to_js(&e))?)
                } else {
                    Backend::Memory(MemoryStore::new())
                }
            }
            Some(Some(s)) if s == "indexeddb" => {
                Backend::IndexedDb(IndexedDbStore::open(&name, durability).await.map_err(|e| to_js(&e))?)
            }
            Some(Some(s)) if s == "memory" => Backend::Memory(MemoryStore::new()),
            Some(_) => return Err(invalid("options.storage", "must be \"auto\", \"indexeddb\" or \"memory\"")),
        };
        let channel = match &backend {
            Backend::IndexedDb(_) => BroadcastChannel::new(&format!("tidelog:{name}")).ok(),
            Backend::Memory(_) => None,
        };
        let shared = Rc::new(Shared {
            backend,
            subscriptions: RefCell::default(),
            pumping: Cell::new(false),
            woken: Cell::new(false),
            channel,
            on_message: RefCell::default(),
            replay: super::replay::ReplayState::new(),
            sync: RefCell::default(),
        });
        if let Some(channel) = &shared.channel {
            let weak = Rc::downgrade(&shared);
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |_| {
                if let Some(shared) = weak.upgrade() {
                    wake(&shared);
                    // Another tab appended or synced: the syncing tab pushes, the
                    // others refresh their status.
                    let driver = shared.sync.borrow().clone();
                    if let Some(driver) = driver {
                        driver.wake();
                    }
                }
            });
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            *shared.on_message.borrow_mut() = Some(on_message);
        }
        if sync_config.is_some() && matches!(shared.backend, Backend::Memory(_)) {
            return Err(invalid(
                "options.sync",
                "needs IndexedDB storage: the outbox must survive reloads (this host has none, or storage is \"memory\")",
            ));
        }
        if let Some(config) = sync_config {
            let driver = super::sync::Driver::start(&shared, &name, config);
            *shared.sync.borrow_mut() = Some(driver);
        }
        Ok(EventStore { shared, name })
    }

    /// The sync side (`undefined` unless opened with a `sync` option).
    #[wasm_bindgen(getter)]
    pub fn sync(&self) -> Option<super::sync::SyncHandle> {
        self.shared.sync.borrow().clone().map(|driver| super::sync::SyncHandle { driver })
    }

    /// The store's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Where the events live: `"indexeddb"` or `"memory"`.
    #[wasm_bindgen(getter)]
    pub fn storage(&self) -> String {
        match self.shared.backend {
            Backend::IndexedDb(_) => "indexeddb".into(),
            Backend::Memory(_) => "memory".into(),
        }
    }

    /// Appends `events` (`[{ type, data, meta?, id?, schema? }]`) to `stream`, all or
    /// nothing. Options: `expectedVersion` (a number, `"any"`, `"no_stream"`,
    /// `"exists"`). Resolves to `{ stream, firstVersion, lastVersion, firstPosition,
    /// lastPosition }` once the events are committed.
    pub async fn append(&self, stream: JsValue, events: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let stream = input::stream_id(&stream)?;
        let options = input::options(&options, "options", &["expectedVersion"])?;
        let expected = input::expected_version(input::get(options.as_ref(), "expectedVersion")?)?;
        let batch = input::events(&events)?;
        let result = match &self.shared.backend {
            Backend::IndexedDb(db) => {
                let js_batch = JsBatch { events: batch.events, ids: batch.ids };
                db.append_batch(&stream, expected, js_batch, batch.bytes).await
            }
            Backend::Memory(m) => {
                let bytes = batch.bytes;
                let cloned = batch
                    .to_new_events()?
                    .into_iter()
                    .map(|e| {
                        Ok(NewEvent {
                            data: js::clone_value(&e.data)?,
                            meta: e.meta.as_ref().map(js::clone_value).transpose()?,
                            ..e
                        })
                    })
                    .collect::<Result<Vec<_>, JsValue>>()?;
                m.append_now(&stream, expected, cloned, bytes)
            }
        }
        .map_err(|e| to_js(&e))?;
        if let Some(channel) = &self.shared.channel {
            // Other tabs and workers re-read from their cursors; the message is a hint.
            let _ = channel.post_message(&result.last_position.as_f64().into());
        }
        wake(&self.shared);
        if let Some(driver) = self.shared.sync.borrow().as_ref() {
            driver.wake();
        }
        Ok(append_result_to_js(&result))
    }

    /// Reads one stream. Options: `fromVersion` (inclusive), `limit`, `direction`
    /// (`"forward"` | `"backward"`). Resolves to an array of events
    /// `{ id, stream, version, position, type, data, meta, recordedAt, schema }`.
    /// `upcast: true` hands out events raised to their latest schema (see `upcast`).
    pub async fn read(&self, stream: JsValue, options: JsValue) -> Result<Array, JsValue> {
        let stream = input::stream_id(&stream)?;
        let upcast = input::upcast_option(&options)?;
        let options = input::read_options(&options)?;
        let records = match &self.shared.backend {
            Backend::IndexedDb(db) => db.read_records(&stream, options).await.map_err(|e| to_js(&e))?,
            Backend::Memory(m) => memory_records(&m.read(&stream, options).await.map_err(|e| to_js(&e))?)?,
        };
        super::replay::upcast_records(&self.shared, upcast, records)
    }

    /// Reads the global log in position order. Options: `fromPosition` (inclusive;
    /// positions start at 1, 0 means the start), `limit`, `upcast` (as in `read`).
    #[wasm_bindgen(js_name = readAll)]
    pub async fn read_all(&self, options: JsValue) -> Result<Array, JsValue> {
        let upcast = input::upcast_option(&options)?;
        let (from, limit) = input::read_all_options(&options)?;
        let records = self.shared.read_all(from, limit).await?;
        super::replay::upcast_records(&self.shared, upcast, records)
    }

    /// The stream's version: its number of events (0 when it has none).
    pub async fn version(&self, stream: JsValue) -> Result<f64, JsValue> {
        let stream = input::stream_id(&stream)?;
        let version = match &self.shared.backend {
            Backend::IndexedDb(db) => db.version(&stream).await,
            Backend::Memory(m) => m.version(&stream).await,
        };
        version.map(|v| v.as_f64()).map_err(|e| to_js(&e))
    }

    /// Every stream with events: `[{ stream, version, lastPosition, syncedVersion }]`
    /// (events after `syncedVersion` are pending: not yet on the sync server).
    pub async fn streams(&self) -> Result<Array, JsValue> {
        let streams = match &self.shared.backend {
            Backend::IndexedDb(db) => return db.stream_records().await.map_err(|e| to_js(&e)),
            Backend::Memory(m) => m.streams().await.map_err(|e| to_js(&e))?,
        };
        Ok(streams
            .iter()
            .map(|s| {
                let js = Object::new();
                set(&js, "stream", s.stream.as_str().into());
                set(&js, "version", s.version.as_f64().into());
                set(&js, "lastPosition", s.last_position.as_f64().into());
                set(&js, "syncedVersion", s.synced_version.as_f64().into());
                JsValue::from(js)
            })
            .collect())
    }

    /// Calls `callback(event)` for every event appended from now on (or from
    /// `options.fromPosition`, inclusive), in position order, including events other
    /// tabs and workers append to the same database. Returns a function that stops it.
    pub fn subscribe(&self, callback: JsValue, options: JsValue) -> Result<Function, JsValue> {
        let Some(callback) = callback.dyn_ref::<Function>() else {
            return Err(invalid("callback", "must be a function"));
        };
        if self.shared.closed() {
            return Err(to_js(&Error::Closed));
        }
        let options = input::options(&options, "options", &["fromPosition"])?;
        let cursor = input::get(options.as_ref(), "fromPosition")?
            .map(|v| input::whole_number(&v, "options.fromPosition").map(|p| Position(p.max(1))))
            .transpose()?;
        let active = Rc::new(Cell::new(true));
        self.shared.subscriptions.borrow_mut().push(Rc::new(Subscription {
            callback: callback.clone(),
            active: active.clone(),
            cursor: Cell::new(cursor),
        }));
        wake(&self.shared);
        let stop = Closure::<dyn FnMut()>::new(move || active.set(false));
        Ok(stop.into_js_value().unchecked_into())
    }

    /// Counters since this store was opened: `{ appends, eventsWritten, bytesWritten,
    /// idempotentAppends, conflicts, reads, eventsRead }`.
    pub fn metrics(&self) -> JsValue {
        metrics_to_js(match &self.shared.backend {
            Backend::IndexedDb(db) => db.metrics(),
            Backend::Memory(m) => m.metrics(),
        })
    }

    /// Closes the store: subscriptions stop, and every later call rejects with a
    /// `ClosedError`.
    pub fn close(&self) {
        if let Some(driver) = self.shared.sync.borrow_mut().take() {
            driver.stop();
        }
        for s in self.shared.subscriptions.borrow_mut().drain(..) {
            s.active.set(false);
        }
        if let Some(channel) = &self.shared.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        self.shared.on_message.borrow_mut().take();
        match &self.shared.backend {
            Backend::IndexedDb(db) => db.close(),
            Backend::Memory(m) => m.close(),
        }
    }
}
