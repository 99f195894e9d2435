//! The `Projection` class (`store.projection(name, options)`): a named fold of the whole
//! log that keeps its state, snapshots it ([`SnapshotSchedule`]), resumes from the
//! snapshot after a reload, and follows the log live through a store subscription.
//!
//! Every operation (load, catch-up, rebuild, the snapshot after a live batch) runs in one
//! queue (`serialize` in `js/fold.js`), so they never interleave. Live events are folded
//! by the subscriber itself (`liveFeeder`) as they arrive; an event past a gap asks for a
//! catch-up instead.
//!
//! When sync moves events the state already holds (a rebase puts remote events before
//! local ones: same ids, new places), the state is folded again from `initial`: the
//! feed reports the move (`onMoved`), and each catch-up first checks the move log
//! against the epoch the state (or its snapshot) reflects ([`MoveTracker`]). So every
//! event counts once, in the log's order.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::backend::Backend;
use super::errors::{invalid, to_js};
use super::event_store::{call, Call, JsEventStore};
use super::input::{self, JsResult};
use super::replay::{number, optional_number, reducer_and_initial, take_failure, PagedFold};
use super::shared::Shared;
use crate::event::{Position, StreamId};
use crate::replay::{MoveTracker, ReplayOptions, SnapshotPolicy, SnapshotSchedule};
use crate::web::glue::{self as js, describe_thrown, get, live_feeder, new_fold, serialize, set};

#[derive(Clone, Copy, Default)]
struct Metrics {
    replayed: u64,
    snapshot_position: Option<u64>,
    snapshots_written: u64,
    invalidated: bool,
    rebuilds: u64,
}

/// A projection's state (what its JS object and its feed's callbacks share).
pub(super) struct Inner {
    store: JsEventStore,
    name: String,
    /// The projection's revision: a snapshot of another revision is dropped.
    revision: u32,
    initial: JsValue,
    /// The fold context (`Fold` in `js/fold.js`): reducer, state, `after` (the last
    /// position covered), `tail` (the queue of serialized operations).
    ctx: JsValue,
    loaded: Cell<bool>,
    schedule: Cell<SnapshotSchedule>,
    listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    /// The store subscription feeding live events, and its callbacks.
    feed: RefCell<Option<Feed>>,
    catch_up_queued: Cell<bool>,
    metrics: Cell<Metrics>,
    /// `ctx.applied` when the listeners were last called.
    notified: Cell<f64>,
    /// The moves the state reflects.
    moves: RefCell<MoveTracker>,
}

struct Feed {
    stop: Function,
    _on_page: Closure<dyn FnMut(JsValue)>,
    _on_gap: Closure<dyn FnMut(JsValue)>,
    _on_moved: Closure<dyn FnMut(JsValue)>,
}

/// A named projection over the event log (made by `store.projection(name, options)`):
/// `state()`, `rebuild()`, `subscribe(cb)`, `metrics()`, `close()`.
#[wasm_bindgen(js_name = Projection)]
pub struct JsProjection {
    inner: Rc<Inner>,
}

#[wasm_bindgen(js_class = EventStore)]
impl JsEventStore {
    /// A named projection over the log: `{ initial, reducer, revision?, streams?,
    /// snapshotEvery? }` (`revision` defaults to 1; `snapshotEvery` to 1000 events, 0 for
    /// never). Its state is snapshotted (IndexedDB store `snapshots`; memory for the
    /// memory backend), so after a reload `state()` reads the snapshot and only the tail.
    /// A snapshot of another `revision` is dropped and the projection rebuilds.
    pub fn projection(&self, name: JsValue, options: JsValue) -> JsResult<JsProjection> {
        let name = input::string(&name, "name")?;
        if name.is_empty() || name.len() > 256 {
            return Err(invalid("name", "must be 1 to 256 bytes long"));
        }
        let allowed = "initial,reducer,revision,streams,snapshotEvery";
        let options = input::options(&options, "options", allowed)?;
        let o = options.as_ref();
        let (reducer, initial) = reducer_and_initial(o)?;
        js::clone_value(&initial).map_err(|e| {
            let why = describe_thrown(&e);
            invalid(
                "options.initial",
                format!("must be structured-cloneable (snapshots store it): {why}"),
            )
        })?;
        let revision = match optional_number(o, "revision")?.map(u32::try_from) {
            None => 1,
            Some(Ok(v)) => v,
            Some(Err(_)) => {
                return Err(invalid("options.revision", "must be a whole number below 2^32"))
            }
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
        let upcasters = &self.shared.replay.upcasters;
        let ctx =
            new_fold(&reducer, &JsValue::UNDEFINED, upcasters, f64::INFINITY, 0.0, &streams, false);
        Ok(JsProjection {
            inner: Rc::new(Inner {
                store: self.share(),
                name,
                revision,
                initial,
                ctx,
                loaded: Cell::new(false),
                schedule: Cell::new(SnapshotSchedule::new(SnapshotPolicy { every })),
                listeners: RefCell::default(),
                next_listener: Cell::new(0),
                feed: RefCell::default(),
                catch_up_queued: Cell::new(false),
                metrics: Cell::default(),
                notified: Cell::new(0.0),
                moves: RefCell::default(),
            }),
        })
    }
}

impl Inner {
    fn shared(&self) -> &Shared {
        &self.store.shared
    }

    fn position(&self) -> Position {
        Position(number(&self.ctx, "after") as u64)
    }

    fn update_metrics(&self, f: impl FnOnce(&mut Metrics)) {
        let mut metrics = self.metrics.get();
        f(&mut metrics);
        self.metrics.set(metrics);
    }

    fn update_schedule<T>(&self, f: impl FnOnce(&mut SnapshotSchedule) -> T) -> T {
        let mut schedule = self.schedule.get();
        let out = f(&mut schedule);
        self.schedule.set(schedule);
        out
    }

    fn reset(&self) -> JsResult<()> {
        set(&self.ctx, "state", js::clone_value(&self.initial)?);
        set(&self.ctx, "after", 0.into());
        self.update_schedule(SnapshotSchedule::saved);
        *self.moves.borrow_mut() = MoveTracker::new();
        Ok(())
    }

    async fn load_snapshot(&self) -> JsResult<JsValue> {
        match &*self.shared().backend {
            Backend::IndexedDb(db) => db.load_snapshot(&self.name).await.map_err(|e| to_js(&e)),
            // A build without the memory and file backends has only IndexedDB stores.
            #[cfg(not(any(feature = "memory", feature = "file")))]
            Backend::Memory(_, never) => match *never {},
            // Memory and file stores: snapshots in memory.
            #[cfg(any(feature = "memory", feature = "file"))]
            _ => {
                let record = self.shared().replay.snapshots.borrow().get(&self.name).cloned();
                // A copy, so the projection's reducer cannot change the stored snapshot.
                record.map_or(Ok(JsValue::UNDEFINED), |r| js::clone_value(&r))
            }
        }
    }

    async fn delete_snapshot(&self) -> JsResult<()> {
        match &*self.shared().backend {
            Backend::IndexedDb(db) => db.delete_snapshot(&self.name).await.map_err(|e| to_js(&e)),
            // A build without the memory and file backends has only IndexedDB stores.
            #[cfg(not(any(feature = "memory", feature = "file")))]
            Backend::Memory(_, never) => match *never {},
            // Memory and file stores: snapshots in memory.
            #[cfg(any(feature = "memory", feature = "file"))]
            _ => {
                self.shared().replay.snapshots.borrow_mut().remove(&self.name);
                Ok(())
            }
        }
    }

    async fn save_snapshot(&self) -> JsResult<()> {
        let state = get(&self.ctx, "state");
        let position = self.position();
        let moves = self.moves.borrow().epoch().unwrap_or(0);
        match &*self.shared().backend {
            Backend::IndexedDb(db) => db
                .save_snapshot(&self.name, &state, position, self.revision, moves)
                .await
                .map_err(|e| to_js(&e))?,
            // A build without the memory and file backends has only IndexedDB stores.
            #[cfg(not(any(feature = "memory", feature = "file")))]
            Backend::Memory(_, never) => match *never {},
            // Memory and file stores: snapshots in memory.
            #[cfg(any(feature = "memory", feature = "file"))]
            _ => {
                let copy = js::clone_value(&state).map_err(|e| {
                    invalid(
                        "state",
                        format!(
                            "projection \"{}\": the state cannot be stored as a snapshot (it must be structured-cloneable): {}",
                            self.name,
                            describe_thrown(&e)
                        ),
                    )
                })?;
                // The shape IndexedDB stores.
                let record = crate::web::glue::snapshot_record(
                    &self.name,
                    &copy,
                    position.as_f64(),
                    self.revision,
                    moves as f64,
                )
                .into();
                self.shared().replay.snapshots.borrow_mut().insert(self.name.clone(), record);
            }
        }
        self.update_schedule(SnapshotSchedule::saved);
        self.update_metrics(|m| m.snapshots_written += 1);
        Ok(())
    }

    /// Loads the snapshot once: same revision -> resume from it; another -> drop it.
    async fn ensure_loaded(&self) -> JsResult<()> {
        if self.loaded.get() {
            return Ok(());
        }
        self.reset()?;
        let record = self.load_snapshot().await?;
        if !record.is_undefined() && !record.is_null() {
            if number(&record, "version") == f64::from(self.revision) {
                set(&self.ctx, "state", get(&record, "state"));
                let position = number(&record, "position");
                set(&self.ctx, "after", position.into());
                // Snapshots written before moves were logged reflect epoch 0.
                let moves = get(&record, "moves").as_f64().unwrap_or(0.0) as u64;
                *self.moves.borrow_mut() = MoveTracker::at(moves);
                self.update_metrics(|m| m.snapshot_position = Some(position as u64));
            } else {
                self.delete_snapshot().await?;
                self.update_metrics(|m| m.invalidated = true);
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
        let listeners: Vec<Function> =
            self.listeners.borrow().iter().map(|(_, f)| f.clone()).collect();
        for listener in listeners {
            js::deliver(&listener, &state);
        }
    }

    /// Applies the tail after the covered position, page by page; snapshots by policy.
    /// First, when sync moved events the state holds, starts again from `initial`.
    async fn catch_up(&self) -> JsResult<()> {
        let (epoch, log) = self.shared().backend.moves().await?;
        let next = self.position().next().map_err(|e| to_js(&e.into()))?;
        let moved = self.moves.borrow_mut().observe(epoch, &log, Position(1), next);
        if !moved.seen.is_empty() || moved.lost {
            self.refold().await?;
            self.moves.borrow_mut().observe(epoch, &log, Position(1), Position(1));
        }
        let from = self.position().next().map_err(|e| to_js(&e.into()))?;
        let options = ReplayOptions { from_position: Some(from), ..Default::default() };
        let mut fold = PagedFold::new(None, &options)?;
        while let Some(applied) = fold.step(self.shared(), &self.ctx).await? {
            self.after_apply(applied).await?;
        }
        Ok(())
    }

    /// Drops the snapshot and the state: the next catch-up folds the whole log.
    async fn refold(&self) -> JsResult<()> {
        self.delete_snapshot().await?;
        self.reset()?;
        self.loaded.set(true);
        self.update_metrics(|m| {
            m.rebuilds += 1;
            m.snapshot_position = None;
        });
        Ok(())
    }

    async fn after_apply(&self, applied: u64) -> JsResult<()> {
        if applied == 0 {
            return Ok(());
        }
        self.update_metrics(|m| m.replayed += applied);
        if self.update_schedule(|s| s.applied(applied)) {
            self.save_snapshot().await?;
        }
        self.notify();
        Ok(())
    }
}

/// An operation of a projection, run in its queue ([`queued`]). Every one runs in the same
/// future type: one promise adapter and one state machine in the wasm.
pub(super) enum Task {
    /// `state()`: resolves to the state, up to the log's head.
    State,
    /// `rebuild()`: resolves to the state folded again from `initial`.
    Rebuild,
    /// `subscribe()`'s first catch-up, then the live feed starts.
    Subscribe,
    /// The live feed applied this many events: snapshot by policy, notify.
    Applied(u32),
    /// The live feed saw a gap: catch up.
    Gap,
    /// Sync moved events the state holds: fold again, snapshot, notify.
    Moved,
}

impl Task {
    /// Runs the task; resolves to the state (`state()`, `rebuild()`) or `undefined`. The
    /// background tasks (all but `state()` and `rebuild()`) report a failure
    /// (`reportError`), never lose it, and resolve.
    pub(super) async fn run(self, inner: &Rc<Inner>) -> JsResult<JsValue> {
        let reporting = !matches!(self, Task::State | Task::Rebuild);
        match self.apply(inner).await {
            Err(e) if reporting => {
                report(&e);
                Ok(JsValue::UNDEFINED)
            }
            done => done,
        }
    }

    async fn apply(self, inner: &Rc<Inner>) -> JsResult<JsValue> {
        match self {
            Task::State => {
                inner.ensure_loaded().await?;
                inner.catch_up().await?;
            }
            Task::Rebuild => {
                inner.refold().await?;
                inner.catch_up().await?;
                if inner.schedule.get().final_due() {
                    inner.save_snapshot().await?;
                }
            }
            Task::Subscribe => {
                inner.ensure_loaded().await?;
                inner.catch_up().await?;
                start_feed(inner)?;
                return Ok(JsValue::UNDEFINED);
            }
            Task::Applied(applied) => {
                inner.after_apply(u64::from(applied)).await?;
                return Ok(JsValue::UNDEFINED);
            }
            Task::Gap => {
                inner.catch_up_queued.set(false);
                inner.catch_up().await?;
                return Ok(JsValue::UNDEFINED);
            }
            Task::Moved => {
                inner.catch_up().await?;
                if inner.schedule.get().final_due() {
                    inner.save_snapshot().await?;
                }
                inner.notify();
                return Ok(JsValue::UNDEFINED);
            }
        }
        Ok(get(&inner.ctx, "state"))
    }
}

/// Runs `task` after the projection's earlier operations (load, catch-up, rebuild), in
/// the store's future ([`Call::Projection`]).
fn queued(inner: &Rc<Inner>, task: Task) -> Promise {
    let ctx = inner.ctx.clone();
    // Called once (`serialize`); an `FnMut`, not a once closure: the store's other
    // callbacks have this type, so the wasm carries its glue once.
    let mut pending = Some((inner.clone(), task));
    let run = Closure::<dyn FnMut() -> Promise>::new(move || match pending.take() {
        Some((inner, task)) => call(Call::Projection(inner, task)),
        None => Promise::resolve(&JsValue::UNDEFINED),
    })
    .into_js_value();
    serialize(&ctx, &run)
}

fn report(error: &JsValue) {
    js::report(error, "projection update failed");
}

/// Starts the live feed (once): a store subscription from the covered position on.
fn start_feed(inner: &Rc<Inner>) -> JsResult<()> {
    if inner.feed.borrow().is_some() {
        return Ok(());
    }
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let on_page = Closure::<dyn FnMut(JsValue)>::new({
        let weak = weak.clone();
        move |applied: JsValue| {
            let Some(inner) = weak.upgrade() else { return };
            let applied = applied.as_f64().unwrap_or(-1.0);
            if applied < 0.0 {
                report(&take_failure(&inner.ctx));
                return;
            }
            let _ = queued(&inner, Task::Applied(applied as u32));
        }
    });
    let on_gap = Closure::<dyn FnMut(JsValue)>::new({
        let weak = weak.clone();
        move |_| {
            let Some(inner) = weak.upgrade() else { return };
            if inner.catch_up_queued.replace(true) {
                return;
            }
            let _ = queued(&inner, Task::Gap);
        }
    });
    // Sync moved events the state holds: the catch-up it queues folds everything again.
    let on_moved = Closure::<dyn FnMut(JsValue)>::new({
        move |_| {
            let Some(inner) = weak.upgrade() else { return };
            let _ = queued(&inner, Task::Moved);
        }
    });
    let feeder =
        live_feeder(&inner.ctx, on_page.as_ref().unchecked_ref(), on_gap.as_ref().unchecked_ref());
    inner.shared().check_open()?;
    let from = inner.position().next().map_err(|e| to_js(&e.into()))?;
    let stop = super::subscribe::add(
        &inner.shared().backend,
        &inner.shared().subscriptions,
        feeder,
        Some(from),
        Some(on_moved.as_ref().unchecked_ref::<Function>().clone()),
        // The feed starts from the moves the state reflects: a move between the
        // catch-up and the feed's first page is still seen as one.
        Some(inner.moves.borrow().clone()),
    );
    *inner.feed.borrow_mut() =
        Some(Feed { stop, _on_page: on_page, _on_gap: on_gap, _on_moved: on_moved });
    Ok(())
}

fn stop_feed(inner: &Inner) {
    if let Some(feed) = inner.feed.borrow_mut().take() {
        let _ = feed.stop.call0(&JsValue::UNDEFINED);
    }
}

#[wasm_bindgen(js_class = Projection)]
impl JsProjection {
    /// The projection's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Resolves to the current state: the snapshot (first call) plus the events after
    /// it, up to the log's head. Rejects with a `ReplayError` when the reducer throws,
    /// or an `InvalidInputError` when the state cannot be stored as a snapshot.
    pub fn state(&self) -> Promise {
        queued(&self.inner, Task::State)
    }

    /// Drops the snapshot, folds the whole log again from `initial`, stores a fresh
    /// snapshot (unless `snapshotEvery` is 0) and resolves to the state.
    pub fn rebuild(&self) -> Promise {
        queued(&self.inner, Task::Rebuild)
    }

    /// Calls `callback(state)` with the new state after each change (once per batch of
    /// events applied), fed live by the store's subscription (other tabs' appends too).
    /// Returns a function that unsubscribes.
    pub fn subscribe(&self, callback: JsValue) -> JsResult<Function> {
        let callback = super::replay::function(&callback, "callback")?;
        let id = self.inner.next_listener.get();
        self.inner.next_listener.set(id.wrapping_add(1));
        self.inner.listeners.borrow_mut().push((id, callback));
        let _ = queued(&self.inner, Task::Subscribe);
        let weak = Rc::downgrade(&self.inner);
        let stop = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                inner.listeners.borrow_mut().retain(|(i, _)| *i != id);
                if inner.listeners.borrow().is_empty() {
                    stop_feed(&inner);
                }
            }
        });
        Ok(stop.into_js_value().unchecked_into())
    }

    /// Counters: `{ replayedEvents, position, snapshotPosition, snapshotsWritten,
    /// invalidatedSnapshot, rebuilds, revision }`. `replayedEvents` counts the events
    /// this object folded (after a reload: only the tail after the snapshot);
    /// `snapshotPosition` is where the loaded snapshot ended (`null`: none was used).
    pub fn metrics(&self) -> JsValue {
        let m = self.inner.metrics.get();
        let out = Object::new();
        set(&out, "replayedEvents", (m.replayed as f64).into());
        set(&out, "position", self.inner.position().as_f64().into());
        let snapshot_position = m.snapshot_position.map_or(JsValue::NULL, |p| (p as f64).into());
        set(&out, "snapshotPosition", snapshot_position);
        set(&out, "snapshotsWritten", (m.snapshots_written as f64).into());
        set(&out, "invalidatedSnapshot", m.invalidated.into());
        set(&out, "rebuilds", (m.rebuilds as f64).into());
        set(&out, "revision", self.inner.revision.into());
        out.into()
    }

    /// Stops the live feed and drops the subscribers.
    pub fn close(&self) {
        self.inner.listeners.borrow_mut().clear();
        stop_feed(&self.inner);
    }
}
