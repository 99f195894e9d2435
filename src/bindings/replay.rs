//! The replay engine in JS: `store.replay`, `store.upcast`, `store.projection` (the
//! `Projection` class) and `store.execute`.
//!
//! The page plan is the pure [`ReplayCursor`] of `crate::replay`; each page comes from
//! one IndexedDB `getAll` (IndexedDB's own array, never decoded in Rust) and is folded
//! by ONE call into `foldPage` in `js_helpers.js`, so the reducer runs in a plain JS loop:
//! no boundary crossing and no serde per event, and the cost is linear in the events.
//!
//! `replay` resolves to the final state (the documented contract). With
//! `{ report: true }` it resolves to `{ state, events, skipped: { count, ids },
//! lastPosition, lastVersion, pages }` instead; in `onError: "skip"` mode without a
//! report, skipped events are reported with `console.warn` (never silently).

use crate::web::glue::{self, get, set};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::errors::{invalid, to_js};
use super::event_store::EventStore;
use super::backend::Backend;
use super::shared::Shared;
use super::upcast;
use super::input::{self, JsResult};
use crate::web::glue as js;
use crate::error::Error;
use crate::event::{EventType, Position, StreamId, Version};
use crate::replay::{PageRead, ReplayCursor, ReplayOptions, SnapshotPolicy, DEFAULT_PAGE_SIZE};
use crate::store::ReadOptions;


fn number(target: &JsValue, key: &str) -> f64 {
    get(target, key).as_f64().unwrap_or(0.0)
}

async fn read_page(shared: &Shared, read: PageRead) -> JsResult<Array> {
    match read {
        PageRead::Stream { stream, options } => read_stream(shared, &stream, options).await,
        PageRead::All { from, limit } => shared.backend.read_all(from, limit).await,
    }
}

async fn read_stream(shared: &Shared, stream: &StreamId, options: ReadOptions) -> JsResult<Array> {
    shared.backend.read(stream, options).await
}

/// Folds every page the cursor plans into `ctx`; returns the pages read.
async fn run_fold(shared: &Shared, stream: Option<&StreamId>, options: &ReplayOptions, ctx: &JsValue) -> JsResult<u64> {
    let mut cursor = ReplayCursor::new(stream.cloned(), options).map_err(|e| to_js(&e))?;
    let mut pages = 0;
    while let Some(read) = cursor.next_read() {
        let page = read_page(shared, read).await?;
        pages += 1;
        let consumed = glue::fold_page(ctx, &page);
        if consumed < 0 {
            let failure = get(ctx, "failure");
            return Err(upcast::replay_error(&get(&failure, "event"), &get(&failure, "cause")));
        }
        let cut = (consumed as u32) < page.length();
        let last = if stream.is_some() { number(ctx, "lastVersion") } else { number(ctx, "lastPosition") };
        cursor.advance(page.length() as usize, (consumed > 0).then_some(last as u64), cut);
    }
    Ok(pages)
}

fn function(value: &JsValue, field: &str) -> JsResult<Function> {
    value.dyn_ref::<Function>().cloned().ok_or_else(|| invalid(field, "must be a function"))
}

fn optional_number(options: Option<&Object>, key: &str) -> JsResult<Option<u64>> {
    input::get(options, key)?.map(|v| input::whole_number(&v, &format!("options.{key}"))).transpose()
}

fn page_size(options: Option<&Object>) -> JsResult<usize> {
    match optional_number(options, "pageSize")? {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=100_000).contains(&n) => Ok(n as usize),
        Some(_) => Err(invalid("options.pageSize", "must be a whole number from 1 to 100000")),
    }
}

fn snapshot_record_to_js(state: &JsValue, position: Position, version: u32) -> JsValue {
    let record = Object::new();
    set(&record, "state", state.clone());
    set(&record, "position", position.as_f64().into());
    set(&record, "version", version.into());
    record.into()
}

#[wasm_bindgen]
impl EventStore {
    /// Folds `stream` (or the whole log with `null`) with `reducer(state, event) ->
    /// state`, starting from `initial`, and resolves to the final state.
    ///
    /// Options: `fromVersion`, `toVersion` (stream replays), `fromPosition` (whole-log
    /// replays), `toPosition` (both: time travel), `upcast` (default `true`: events reach
    /// the reducer at their latest schema), `onError` (`"throw"`, the default: a throwing
    /// reducer rejects with a `ReplayError` carrying `position`, `eventId`, `stream`,
    /// `version`, `type` and `cause`; `"skip"`: failing events are skipped and reported),
    /// `pageSize` (events per read, default 2000), `report` (resolve to `{ state, events,
    /// skipped: { count, ids }, lastPosition, lastVersion, pages }`).
    pub async fn replay(&self, stream: JsValue, reducer: JsValue, initial: JsValue, options: JsValue) -> JsResult<JsValue> {
        let stream = if stream.is_null() || stream.is_undefined() { None } else { Some(input::stream_id(&stream)?) };
        let reducer = function(&reducer, "reducer")?;
        let options = input::options(
            &options,
            "options",
            &["fromVersion", "toVersion", "fromPosition", "toPosition", "upcast", "onError", "pageSize", "report"],
        )?;
        let o = options.as_ref();
        let skip = match input::get(o, "onError")?.map(|v| v.as_string()) {
            None => false,
            Some(Some(s)) if s == "throw" => false,
            Some(Some(s)) if s == "skip" => true,
            Some(_) => return Err(invalid("options.onError", "must be \"throw\" or \"skip\"")),
        };
        let upcast = input::flag(input::get(o, "upcast")?.unwrap_or(JsValue::UNDEFINED), "options.upcast", true)?;
        let report = input::flag(input::get(o, "report")?.unwrap_or(JsValue::UNDEFINED), "options.report", false)?;
        let replay_options = ReplayOptions {
            from_version: optional_number(o, "fromVersion")?.map(Version),
            to_version: optional_number(o, "toVersion")?.map(Version),
            from_position: optional_number(o, "fromPosition")?.map(Position),
            to_position: optional_number(o, "toPosition")?.map(Position),
            page_size: page_size(o)?,
            ..ReplayOptions::default()
        };
        if self.shared.closed() {
            return Err(to_js(&Error::Closed));
        }
        let to_position = replay_options.to_position.map_or(f64::INFINITY, Position::as_f64);
        let upcasters = if upcast { self.shared.replay.upcasters.clone() } else { JsValue::NULL };
        let ctx = glue::new_fold(&reducer, &initial, &upcasters, to_position, 0.0, &JsValue::NULL, skip);
        let pages = run_fold(&self.shared, stream.as_ref(), &replay_options, &ctx).await?;
        let state = get(&ctx, "state");
        let skipped: Array = get(&ctx, "skipped").unchecked_into();
        if !report {
            if skipped.length() > 0 {
                web_sys::console::warn_2(
                    &format!("tidelog: replay skipped {} failing event(s); pass {{ report: true }} to get them", skipped.length())
                        .into(),
                    &skipped,
                );
            }
            return Ok(state);
        }
        let out = Object::new();
        set(&out, "state", state);
        set(&out, "events", get(&ctx, "applied"));
        let skipped_js = Object::new();
        set(&skipped_js, "count", skipped.length().into());
        set(&skipped_js, "ids", skipped.into());
        set(&out, "skipped", skipped_js.into());
        set(&out, "lastPosition", get(&ctx, "lastPosition"));
        set(&out, "lastVersion", if stream.is_some() { get(&ctx, "lastVersion") } else { JsValue::NULL });
        set(&out, "pages", (pages as f64).into());
        Ok(out.into())
    }

    /// Registers `upcaster(data, event) -> data`, raising events of `type` from schema
    /// `fromSchema` to `fromSchema + 1`. Steps chain (1 -> 2 -> 3 ...). Replays,
    /// projections and reads with `{ upcast: true }` apply them; stored events never
    /// change. A step registers once per store.
    pub fn upcast(&self, event_type: JsValue, from_schema: JsValue, upcaster: JsValue) -> JsResult<()> {
        let event_type = EventType::new(input::string(&event_type, "type")?).map_err(|e| to_js(&e))?;
        let from = input::whole_number(&from_schema, "fromSchema")?;
        let from = match u32::try_from(from) {
            Ok(n) if (1..u32::MAX).contains(&n) => n,
            _ => return Err(invalid("fromSchema", "must be a whole number from 1 to 2^32 - 2")),
        };
        let upcaster = function(&upcaster, "upcaster")?;
        if !glue::add_upcaster(&self.shared.replay.upcasters, event_type.as_str(), from, &upcaster) {
            return Err(invalid(
                "fromSchema",
                format!("an upcaster for {event_type} schema {from} is already registered"),
            ));
        }
        Ok(())
    }

    /// A named projection over the log: `{ initial, reducer, version, streams?,
    /// snapshotEvery? }` (`version` defaults to 1; `snapshotEvery` to 1000 events, 0 for
    /// never). Its state is snapshotted (IndexedDB store `snapshots`; memory for the
    /// memory backend), so after a reload `state()` reads the snapshot and only the tail.
    /// A snapshot of another `version` is dropped and the projection rebuilds.
    pub fn projection(&self, name: JsValue, options: JsValue) -> JsResult<Projection> {
        let name = input::string(&name, "name")?;
        if name.is_empty() || name.len() > 256 {
            return Err(invalid("name", "must be 1 to 256 bytes long"));
        }
        let options = input::options(&options, "options", &["initial", "reducer", "version", "streams", "snapshotEvery"])?;
        let o = options.as_ref();
        let reducer = function(&input::get(o, "reducer")?.unwrap_or(JsValue::UNDEFINED), "options.reducer")?;
        let initial = input::get(o, "initial")?.unwrap_or(JsValue::UNDEFINED);
        js::clone_value(&initial).map_err(|e| {
            invalid("options.initial", format!("must be structured-cloneable (snapshots store it): {}", glue::describe_thrown(&e)))
        })?;
        let version = match optional_number(o, "version")?.map(u32::try_from) {
            None => 1,
            Some(Ok(v)) => v,
            Some(Err(_)) => return Err(invalid("options.version", "must be a whole number below 2^32")),
        };
        let every = optional_number(o, "snapshotEvery")?.unwrap_or(1_000);
        let streams = match input::get(o, "streams")? {
            None => JsValue::NULL,
            Some(v) => {
                let Some(list) = v.dyn_ref::<Array>() else {
                    return Err(invalid("options.streams", "must be an array of stream names"));
                };
                for (i, s) in list.iter().enumerate() {
                    StreamId::new(input::string(&s, &format!("options.streams[{i}]"))?)
                        .map_err(|e| invalid(format!("options.streams[{i}]"), e.to_string()))?;
                }
                v
            }
        };
        let upcasters = self.shared.replay.upcasters.clone();
        let ctx = glue::new_fold(&reducer, &JsValue::UNDEFINED, &upcasters, f64::INFINITY, 0.0, &streams, false);
        Ok(Projection {
            inner: Rc::new(Inner {
                store: self.share(),
                name,
                version,
                policy: SnapshotPolicy { every },
                initial,
                ctx,
                loaded: Cell::new(false),
                since_snapshot: Cell::new(0),
                listeners: RefCell::default(),
                next_listener: Cell::new(0),
                feed: RefCell::default(),
                catch_up_queued: Cell::new(false),
                stats: Cell::default(),
                notified: Cell::new(0.0),
            }),
        })
    }

    /// Handles `command` on `stream` with decide/evolve: folds the stream with
    /// `options.reducer` from `options.initial` (evolve), calls `options.decide(command,
    /// state)` (may be async) for the events to append, and appends them expecting the
    /// version the state was built at. On a `VersionConflictError` it folds only the
    /// missed events and decides again, up to `options.maxAttempts` (default 3) attempts.
    /// Resolves to `{ appended, state, version, attempts }` (`appended` is `null` when
    /// `decide` returned no events).
    pub async fn execute(&self, stream: JsValue, command: JsValue, options: JsValue) -> JsResult<JsValue> {
        let stream_id = input::stream_id(&stream)?;
        let options = input::options(&options, "options", &["initial", "reducer", "decide", "maxAttempts", "upcast"])?;
        let o = options.as_ref();
        let reducer = function(&input::get(o, "reducer")?.unwrap_or(JsValue::UNDEFINED), "options.reducer")?;
        let decide = function(&input::get(o, "decide")?.unwrap_or(JsValue::UNDEFINED), "options.decide")?;
        let initial = input::get(o, "initial")?.unwrap_or(JsValue::UNDEFINED);
        let max_attempts = optional_number(o, "maxAttempts")?.unwrap_or(3).clamp(1, 100);
        let upcast = input::flag(input::get(o, "upcast")?.unwrap_or(JsValue::UNDEFINED), "options.upcast", true)?;
        let upcasters = if upcast { self.shared.replay.upcasters.clone() } else { JsValue::NULL };
        let ctx = glue::new_fold(&reducer, &initial, &upcasters, f64::INFINITY, 0.0, &JsValue::NULL, false);
        let mut version = Version(0);
        let mut attempts = 0u64;
        loop {
            attempts += 1;
            let options = ReplayOptions { from_version: Some(version.next().map_err(|e| to_js(&e))?), ..Default::default() };
            run_fold(&self.shared, Some(&stream_id), &options, &ctx).await?;
            version = Version(number(&ctx, "lastVersion") as u64);
            let state = get(&ctx, "state");
            let decided = decide.call2(&JsValue::UNDEFINED, &command, &state)?;
            let events = JsFuture::from(Promise::resolve(&decided)).await?;
            let result = Object::new();
            set(&result, "state", state);
            set(&result, "version", version.as_f64().into());
            set(&result, "attempts", (attempts as f64).into());
            let empty = events.is_null() || events.is_undefined() || events.dyn_ref::<Array>().is_some_and(|a| a.length() == 0);
            if empty {
                set(&result, "appended", JsValue::NULL);
                return Ok(result.into());
            }
            let append_options = Object::new();
            set(&append_options, "expectedVersion", version.as_f64().into());
            match self.append(stream.clone(), events, append_options.into()).await {
                Ok(appended) => {
                    set(&result, "appended", appended);
                    return Ok(result.into());
                }
                Err(e) if attempts < max_attempts && get(&e, "name").as_string().as_deref() == Some("VersionConflictError") => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Stats {
    replayed: u64,
    snapshot_position: Option<u64>,
    snapshots_written: u64,
    invalidated: bool,
    rebuilds: u64,
}

struct Inner {
    store: EventStore,
    name: String,
    version: u32,
    policy: SnapshotPolicy,
    initial: JsValue,
    /// The fold context: reducer, state, `after` (the last position covered), `tail`
    /// (the queue of serialized operations).
    ctx: JsValue,
    loaded: Cell<bool>,
    since_snapshot: Cell<u64>,
    listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    /// The store subscription feeding live events, and its callbacks.
    feed: RefCell<Option<Feed>>,
    catch_up_queued: Cell<bool>,
    stats: Cell<Stats>,
    /// `ctx.applied` when the listeners were last called.
    notified: Cell<f64>,
}

struct Feed {
    stop: Function,
    _on_page: Closure<dyn FnMut(i32, u32)>,
    _on_gap: Closure<dyn FnMut()>,
}

/// A named projection over the event log (made by `store.projection(name, options)`):
/// `state()`, `rebuild()`, `subscribe(cb)`, `stats()`, `close()`.
#[wasm_bindgen]
pub struct Projection {
    inner: Rc<Inner>,
}

impl Inner {
    fn shared(&self) -> &Shared {
        &self.store.shared
    }

    fn position(&self) -> Position {
        Position(number(&self.ctx, "after") as u64)
    }

    fn update_stats(&self, f: impl FnOnce(&mut Stats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    fn reset(&self) -> JsResult<()> {
        set(&self.ctx, "state", js::clone_value(&self.initial)?);
        set(&self.ctx, "after", 0.into());
        self.since_snapshot.set(0);
        Ok(())
    }

    async fn load_snapshot(&self) -> JsResult<JsValue> {
        match &*self.shared().backend {
            Backend::IndexedDb(db) => db.load_snapshot(&self.name).await.map_err(|e| to_js(&e)),
            Backend::Memory(_) => {
                let record = self.shared().replay.snapshots.borrow().get(&self.name).cloned();
                // A copy, so the projection's reducer cannot change the stored snapshot.
                record.map_or(Ok(JsValue::UNDEFINED), |r| js::clone_value(&r))
            }
        }
    }

    async fn delete_snapshot(&self) -> JsResult<()> {
        match &*self.shared().backend {
            Backend::IndexedDb(db) => db.delete_snapshot(&self.name).await.map_err(|e| to_js(&e)),
            Backend::Memory(_) => {
                self.shared().replay.snapshots.borrow_mut().remove(&self.name);
                Ok(())
            }
        }
    }

    async fn save_snapshot(&self) -> JsResult<()> {
        let state = get(&self.ctx, "state");
        let position = self.position();
        match &*self.shared().backend {
            Backend::IndexedDb(db) => {
                db.save_snapshot(&self.name, &state, position, self.version).await.map_err(|e| to_js(&e))?
            }
            Backend::Memory(_) => {
                let copy = js::clone_value(&state).map_err(|e| {
                    invalid(
                        "state",
                        format!(
                            "projection \"{}\": the state cannot be stored as a snapshot (it must be structured-cloneable): {}",
                            self.name,
                            glue::describe_thrown(&e)
                        ),
                    )
                })?;
                let record = snapshot_record_to_js(&copy, position, self.version);
                self.shared().replay.snapshots.borrow_mut().insert(self.name.clone(), record);
            }
        }
        self.since_snapshot.set(0);
        self.update_stats(|s| s.snapshots_written += 1);
        Ok(())
    }

    /// Loads the snapshot once: same version -> resume from it; another version -> drop it.
    async fn ensure_loaded(&self) -> JsResult<()> {
        if self.loaded.get() {
            return Ok(());
        }
        self.reset()?;
        let record = self.load_snapshot().await?;
        if !record.is_undefined() && !record.is_null() {
            if number(&record, "version") == f64::from(self.version) {
                set(&self.ctx, "state", get(&record, "state"));
                let position = number(&record, "position");
                set(&self.ctx, "after", position.into());
                self.update_stats(|s| s.snapshot_position = Some(position as u64));
            } else {
                self.delete_snapshot().await?;
                self.update_stats(|s| s.invalidated = true);
            }
        }
        self.loaded.set(true);
        Ok(())
    }

    /// Calls the listeners with the state, once per batch of applied events (a second
    /// call for events already announced does nothing).
    fn notify(&self) {
        let applied = number(&self.ctx, "applied");
        if applied <= self.notified.get() {
            return;
        }
        self.notified.set(applied);
        let state = get(&self.ctx, "state");
        let listeners: Vec<Function> = self.listeners.borrow().iter().map(|(_, f)| f.clone()).collect();
        for listener in listeners {
            js::deliver(&listener, &state);
        }
    }

    /// Applies the tail after the covered position, page by page; snapshots by policy.
    async fn catch_up(&self) -> JsResult<()> {
        loop {
            let from = self.position().next().map_err(|e| to_js(&e))?;
            let page = self.shared().backend.read_all(from, DEFAULT_PAGE_SIZE).await?;
            let before = number(&self.ctx, "applied") as u64;
            let consumed = glue::fold_page(&self.ctx, &page);
            if consumed < 0 {
                let failure = get(&self.ctx, "failure");
                set(&self.ctx, "failure", JsValue::NULL);
                return Err(upcast::replay_error(&get(&failure, "event"), &get(&failure, "cause")));
            }
            let applied = (number(&self.ctx, "applied") as u64).saturating_sub(before);
            self.after_apply(applied).await?;
            if (page.length() as usize) < DEFAULT_PAGE_SIZE {
                return Ok(());
            }
        }
    }

    async fn after_apply(&self, applied: u64) -> JsResult<()> {
        if applied == 0 {
            return Ok(());
        }
        self.update_stats(|s| s.replayed += applied);
        self.since_snapshot.set(self.since_snapshot.get() + applied);
        if self.policy.due(self.since_snapshot.get()) {
            self.save_snapshot().await?;
        }
        self.notify();
        Ok(())
    }
}

/// Runs `task` after the projection's earlier operations (load, catch-up, rebuild).
fn queued<F>(inner: &Rc<Inner>, task: F) -> Promise
where
    F: std::future::Future<Output = JsResult<JsValue>> + 'static,
{
    let run = Closure::once_into_js(move || future_to_promise(task));
    glue::serialize(&inner.ctx, &run)
}

/// [`queued`] for background work: a failure is reported (`reportError`), never lost.
fn queued_reporting<F>(inner: &Rc<Inner>, task: F)
where
    F: std::future::Future<Output = JsResult<JsValue>> + 'static,
{
    let _ = queued(inner, async move {
        if let Err(e) = task.await {
            report(&e);
        }
        Ok(JsValue::UNDEFINED)
    });
}

fn report(error: &JsValue) {
    let report_error = Reflect::get(&js_sys::global(), &"reportError".into()).ok();
    match report_error.and_then(|f| f.dyn_into::<Function>().ok()) {
        Some(f) => {
            let _ = f.call1(&JsValue::UNDEFINED, error);
        }
        None => web_sys::console::error_2(&"tidelog: projection update failed".into(), error),
    }
}

/// Starts the live feed (once): a store subscription from the covered position on.
fn start_feed(inner: &Rc<Inner>) -> JsResult<()> {
    if inner.feed.borrow().is_some() {
        return Ok(());
    }
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let on_page = Closure::<dyn FnMut(i32, u32)>::new({
        let weak = weak.clone();
        move |consumed: i32, applied: u32| {
            let Some(inner) = weak.upgrade() else { return };
            if consumed < 0 {
                let failure = get(&inner.ctx, "failure");
                set(&inner.ctx, "failure", JsValue::NULL);
                report(&upcast::replay_error(&get(&failure, "event"), &get(&failure, "cause")));
                return;
            }
            let task = {
                let inner = inner.clone();
                async move {
                    inner.after_apply(u64::from(applied)).await?;
                    Ok(JsValue::UNDEFINED)
                }
            };
            queued_reporting(&inner, task);
        }
    });
    let on_gap = Closure::<dyn FnMut()>::new(move || {
        let Some(inner) = weak.upgrade() else { return };
        if inner.catch_up_queued.replace(true) {
            return;
        }
        let task = {
            let inner = inner.clone();
            async move {
                inner.catch_up_queued.set(false);
                inner.catch_up().await?;
                Ok(JsValue::UNDEFINED)
            }
        };
        queued_reporting(&inner, task);
    });
    let feeder = glue::live_feeder(&inner.ctx, on_page.as_ref().unchecked_ref(), on_gap.as_ref().unchecked_ref());
    let options = Object::new();
    set(&options, "fromPosition", inner.position().next().map_err(|e| to_js(&e))?.as_f64().into());
    let stop = inner.store.subscribe(feeder.into(), options.into())?;
    *inner.feed.borrow_mut() = Some(Feed { stop, _on_page: on_page, _on_gap: on_gap });
    Ok(())
}

fn stop_feed(inner: &Inner) {
    if let Some(feed) = inner.feed.borrow_mut().take() {
        let _ = feed.stop.call0(&JsValue::UNDEFINED);
    }
}

#[wasm_bindgen]
impl Projection {
    /// The projection's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Resolves to the current state: the snapshot (first call) plus the events after
    /// it, up to the log's head. Rejects with a `ReplayError` when the reducer throws,
    /// or an `InvalidInputError` when the state cannot be stored as a snapshot.
    pub fn state(&self) -> Promise {
        let inner = self.inner.clone();
        queued(&self.inner, async move {
            inner.ensure_loaded().await?;
            inner.catch_up().await?;
            Ok(get(&inner.ctx, "state"))
        })
    }

    /// Drops the snapshot, folds the whole log again from `initial`, stores a fresh
    /// snapshot (unless `snapshotEvery` is 0) and resolves to the state.
    pub fn rebuild(&self) -> Promise {
        let inner = self.inner.clone();
        queued(&self.inner, async move {
            inner.delete_snapshot().await?;
            inner.reset()?;
            inner.loaded.set(true);
            inner.update_stats(|s| {
                s.rebuilds += 1;
                s.snapshot_position = None;
            });
            inner.catch_up().await?;
            if inner.policy.every > 0 && inner.since_snapshot.get() > 0 {
                inner.save_snapshot().await?;
            }
            Ok(get(&inner.ctx, "state"))
        })
    }

    /// Calls `callback(state)` with the new state after each change (once per batch of
    /// events applied), fed live by the store's subscription (other tabs' appends too).
    /// Returns a function that unsubscribes.
    pub fn subscribe(&self, callback: JsValue) -> JsResult<Function> {
        let callback = function(&callback, "callback")?;
        let id = self.inner.next_listener.get();
        self.inner.next_listener.set(id.wrapping_add(1));
        self.inner.listeners.borrow_mut().push((id, callback));
        let inner = self.inner.clone();
        queued_reporting(&self.inner, async move {
            inner.ensure_loaded().await?;
            inner.catch_up().await?;
            start_feed(&inner)?;
            Ok(JsValue::UNDEFINED)
        });
        let weak = Rc::downgrade(&self.inner);
        let stop = Closure::once_into_js(move || {
            if let Some(inner) = weak.upgrade() {
                inner.listeners.borrow_mut().retain(|(i, _)| *i != id);
                if inner.listeners.borrow().is_empty() {
                    stop_feed(&inner);
                }
            }
        });
        Ok(stop.unchecked_into())
    }

    /// Counters: `{ replayedEvents, position, snapshotPosition, snapshotsWritten,
    /// invalidatedSnapshot, rebuilds, version }`. `replayedEvents` counts the events this
    /// object folded (after a reload: only the tail after the snapshot);
    /// `snapshotPosition` is where the loaded snapshot ended (`null`: none was used).
    pub fn stats(&self) -> JsValue {
        let s = self.inner.stats.get();
        let out = Object::new();
        set(&out, "replayedEvents", (s.replayed as f64).into());
        set(&out, "position", self.inner.position().as_f64().into());
        set(&out, "snapshotPosition", s.snapshot_position.map_or(JsValue::NULL, |p| (p as f64).into()));
        set(&out, "snapshotsWritten", (s.snapshots_written as f64).into());
        set(&out, "invalidatedSnapshot", s.invalidated.into());
        set(&out, "rebuilds", (s.rebuilds as f64).into());
        set(&out, "version", self.inner.version.into());
        out.into()
    }

    /// Stops the live feed and drops the subscribers.
    pub fn close(&self) {
        self.inner.listeners.borrow_mut().clear();
        stop_feed(&self.inner);
    }
}
