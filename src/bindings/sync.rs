//! `store.sync`: drives the [`SyncEngine`] in the browser.
//!
//! - **Triggers**: every append wakes it (bursts coalesce into one round), and so do
//!   the `online` and `visibilitychange` events, a timer (the next backoff deadline, or
//!   the poll interval: longer while the page is hidden), another tab's append
//!   (BroadcastChannel) and `sync.now()`.
//! - **One syncing tab**: the tab holding the Web Lock `tidelog-sync:<database>` runs
//!   rounds; the others queue for the lock and take over when that tab closes (or
//!   freezes: the lock is released on `freeze` and requested again on `resume`).
//!   Without the Web Locks API (older hosts, workers of some runtimes) every instance
//!   syncs, which idempotency by event id keeps correct.
//! - **Status** is a snapshot kept up to date after every round and append:
//!   `{ online, paused, leader, pending, pendingBytes, pendingStreams, oldestPendingAge, inFlight, conflicts, deadLetters,
//!   lastSyncedAt, lastError, nextRetryAt, stalled, auth }` (`auth`: the refusal that
//!   paused sync, `{ status, message }`, until a new token or `now()`).
//! - **Background Sync**: after a round that failed to reach the server (or while the
//!   browser is offline) with events pending, the driver registers the one-off Background
//!   Sync tag `tidelog:<database>` on the page's service worker registration, if any. A
//!   service worker that opens the same store on that `sync` event and calls
//!   `sync.now()` pushes the outbox when the network is back, even with every page closed.
//! - **Stall watchdog**: pending events that make no progress for `stallMs` while online
//!   and not paused set `stalled` and emit an `error`, never a silent "connected".

use crate::web::glue::{get, set};
use crate::web::convert::failure_to_js;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::errors::{invalid, to_js};
use super::backend::Backend;
use super::shared::{Shared, SyncHook};
use super::input::{self, JsResult};
use crate::event::EventId;
use crate::outbox::{BatchLimits, Failure, RetryPolicy};
use crate::protocol::PushEvent;
use crate::env::SystemEnvironment;
use crate::web::fetch::FetchTransport;
use crate::sync::{ConflictPolicy, SyncEngine, SyncOptions, SyncReport};

/// How conflicts are settled, as the app configured it.
enum OnConflict {
    Rebase,
    Quarantine,
    Resolve(Function),
}

/// The parsed `sync` option of `EventStore.open`.
pub(super) struct SyncConfig {
    /// Start paused (e.g. the app remembers the user's "offline" switch).
    paused: bool,
    url: String,
    token: Option<String>,
    on_conflict: OnConflict,
    poll_ms: u32,
    timeout_ms: u32,
    stall_ms: f64,
    batch_size: usize,
}

/// Parses `{ url, token, onConflict, pollMs, timeoutMs, stallMs, batchSize, paused }`.
pub(super) fn parse_config(value: &JsValue) -> JsResult<Option<SyncConfig>> {
    let Some(options) = input::options(
        value,
        "options.sync",
        &["url", "token", "onConflict", "pollMs", "timeoutMs", "stallMs", "batchSize", "paused"],
    )?
    else {
        return Ok(None);
    };
    let options = Some(&options);
    let url = match input::get(options, "url")? {
        Some(url) => input::string(&url, "options.sync.url")?,
        None => return Err(invalid("options.sync.url", "is required: the sync space's base URL")),
    };
    if url.is_empty() || url.contains('?') || url.contains('#') {
        return Err(invalid("options.sync.url", "must be a base URL without query or fragment, e.g. https://host/v1/space"));
    }
    let token = input::get(options, "token")?.map(|t| input::string(&t, "options.sync.token")).transpose()?;
    let on_conflict = match input::get(options, "onConflict")? {
        None => OnConflict::Rebase,
        Some(v) if v.as_string().as_deref() == Some("rebase") => OnConflict::Rebase,
        Some(v) if v.as_string().as_deref() == Some("quarantine") => OnConflict::Quarantine,
        Some(v) if v.is_function() => OnConflict::Resolve(v.unchecked_into()),
        Some(_) => return Err(invalid("options.sync.onConflict", "must be \"rebase\", \"quarantine\" or a function")),
    };
    let number = |key: &str, default: u64, min: u64, max: u64| -> JsResult<u64> {
        match input::get(options, key)? {
            None => Ok(default),
            Some(v) => {
                let n = input::whole_number(&v, &format!("options.sync.{key}"))?;
                if n < min || n > max {
                    return Err(invalid(format!("options.sync.{key}"), format!("must be from {min} to {max}")));
                }
                Ok(n)
            }
        }
    };
    let paused = match input::get(options, "paused")? {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| invalid("options.sync.paused", "must be true or false"))?,
    };
    Ok(Some(SyncConfig {
        paused,
        url,
        token,
        on_conflict,
        poll_ms: number("pollMs", 30_000, 100, 86_400_000)? as u32,
        timeout_ms: number("timeoutMs", 15_000, 100, 600_000)? as u32,
        stall_ms: number("stallMs", 60_000, 1_000, 86_400_000)? as f64,
        batch_size: number("batchSize", 100, 1, 1_000)? as usize,
    }))
}

#[derive(Default)]
struct Status {
    pending: f64,
    pending_streams: f64,
    /// Approximate JSON bytes of the pending payloads.
    pending_bytes: f64,
    /// Recording time of the oldest pending event (ms since the epoch).
    oldest_pending_at: Option<f64>,
    conflicts: f64,
    dead_letters: f64,
    last_synced_at: Option<f64>,
    last_error: Option<Failure>,
    next_retry_at: Option<f64>,
    stalled: bool,
}

/// The sync driver of one store.
pub(super) struct Driver {
    store: Weak<Shared>,
    engine: SyncEngine<FetchTransport>,
    on_conflict: OnConflict,
    poll_ms: u32,
    stall_ms: f64,
    lock_name: String,
    /// The Background Sync tag: `tidelog:<database>`.
    background_tag: String,
    /// A Background Sync was requested since the last clean round (once per outage).
    background_requested: Cell<bool>,
    paused: Cell<bool>,
    auth_failed: RefCell<Option<Failure>>,
    running: Cell<bool>,
    again: Cell<bool>,
    /// The next round ignores backoff deadlines (`now()`, the `online` event).
    force: Cell<bool>,
    leader: Cell<bool>,
    closed: Cell<bool>,
    timer: Cell<Option<f64>>,
    /// Resolves the Web Lock's promise: hands the lock over.
    release: RefCell<Option<Function>>,
    status: RefCell<Status>,
    last_progress_at: Cell<f64>,
    listeners: RefCell<Vec<(String, Function, Rc<Cell<bool>>)>>,
    waiters: RefCell<Vec<(EventId, Function)>>,
    /// `online`, `offline`, `visibilitychange`, `freeze`, `resume` listeners.
    dom_listeners: RefCell<Vec<(String, Closure<dyn FnMut()>)>>,
}

fn global() -> JsValue {
    js_sys::global().into()
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn is_online() -> bool {
    let navigator = get(&global(), "navigator");
    get(&navigator, "onLine").as_bool().unwrap_or(true)
}

fn is_hidden() -> bool {
    let document = get(&global(), "document");
    get(&document, "visibilityState").as_string().as_deref() == Some("hidden")
}

impl SyncHook for Driver {
    fn changed(self: Rc<Self>) {
        Driver::wake(&self);
    }

    fn closing(self: Rc<Self>) {
        Driver::stop(&self);
    }
}

impl Driver {
    /// Starts syncing `store` as `config` says.
    pub(super) fn start(store: &Rc<Shared>, database: &str, config: SyncConfig) -> Rc<Driver> {
        let policy = match config.on_conflict {
            OnConflict::Rebase => ConflictPolicy::Rebase,
            OnConflict::Quarantine => ConflictPolicy::Quarantine,
            OnConflict::Resolve(_) => ConflictPolicy::Resolve,
        };
        let options = SyncOptions {
            policy,
            limits: BatchLimits { max_events: config.batch_size, ..BatchLimits::default() },
            retry: RetryPolicy::default(),
            lease_ms: u64::from(config.timeout_ms) + 5_000,
            ..SyncOptions::default()
        };
        let transport = FetchTransport::new(config.url, config.token, config.timeout_ms);
        let driver = Rc::new(Driver {
            store: Rc::downgrade(store),
            engine: SyncEngine::new(transport, options),
            on_conflict: config.on_conflict,
            poll_ms: config.poll_ms,
            stall_ms: config.stall_ms,
            lock_name: format!("tidelog-sync:{database}"),
            background_tag: format!("tidelog:{database}"),
            background_requested: Cell::new(false),
            paused: Cell::new(config.paused),
            auth_failed: RefCell::new(None),
            running: Cell::new(false),
            again: Cell::new(false),
            force: Cell::new(false),
            leader: Cell::new(false),
            closed: Cell::new(false),
            timer: Cell::new(None),
            release: RefCell::new(None),
            status: RefCell::default(),
            last_progress_at: Cell::new(now()),
            listeners: RefCell::default(),
            waiters: RefCell::default(),
            dom_listeners: RefCell::default(),
        });
        driver.listen_to_host();
        driver.request_lock();
        // A first round even before leading: the status reflects the stored outbox.
        driver.wake();
        driver
    }

    fn listen_to_host(self: &Rc<Self>) {
        let target = global();
        let Ok(add) = get(&target, "addEventListener").dyn_into::<Function>() else { return };
        let document = get(&target, "document");
        for (on_document, name) in [(false, "online"), (false, "offline"), (true, "visibilitychange"), (true, "freeze"), (true, "resume")] {
            let weak = Rc::downgrade(self);
            let event = name.to_string();
            let closure = Closure::<dyn FnMut()>::new(move || {
                let Some(driver) = weak.upgrade() else { return };
                match event.as_str() {
                    "freeze" => driver.release_lock(),
                    "resume" => driver.request_lock(),
                    "online" => {
                        driver.force.set(true);
                        driver.wake();
                    }
                    _ => driver.wake(),
                }
            });
            let host = if on_document { &document } else { &target };
            if host.is_undefined() {
                continue;
            }
            if let Ok(add) = get(host, "addEventListener").dyn_into::<Function>() {
                let _ = add.call2(host, &name.into(), closure.as_ref());
            }
            self.dom_listeners.borrow_mut().push((name.to_string(), closure));
        }
        let _ = add;
    }

    /// Queues for the Web Lock; the holder syncs. Without Web Locks: lead at once.
    fn request_lock(self: &Rc<Self>) {
        let locks = get(&get(&global(), "navigator"), "locks");
        let Ok(request) = get(&locks, "request").dyn_into::<Function>() else {
            self.leader.set(true);
            self.wake();
            return;
        };
        let weak = Rc::downgrade(self);
        let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            let Some(driver) = weak.upgrade() else { return JsValue::UNDEFINED };
            if driver.closed.get() {
                return JsValue::UNDEFINED;
            }
            let held = Promise::new(&mut |resolve, _| {
                *driver.release.borrow_mut() = Some(resolve);
            });
            driver.leader.set(true);
            // Taking over: leases left by a tab that crashed mid-send are void.
            driver.force.set(true);
            driver.wake();
            held.into()
        });
        if let Ok(promise) = request.call2(&locks, &self.lock_name.as_str().into(), &granted) {
            if let Ok(promise) = promise.dyn_into::<Promise>() {
                // A rejected lock request (e.g. the page is going away) is not an error.
                let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
                let _ = promise.catch(&ignore);
                ignore.forget(); // once per lock request; the lock lives as long as the page

            }
        }
    }

    fn release_lock(&self) {
        self.leader.set(false);
        if let Some(release) = self.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }

    /// Asks for a round soon (coalescing: a wake during a round causes one more).
    pub(super) fn wake(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        self.again.set(true);
        if self.running.replace(true) {
            return;
        }
        let driver = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            while driver.again.replace(false) && !driver.closed.get() {
                driver.round().await;
            }
            driver.running.set(false);
            driver.schedule();
            driver.emit("status", &driver.status_js());
        });
    }

    fn may_sync(&self) -> bool {
        self.leader.get() && !self.paused.get() && self.auth_failed.borrow().is_none() && is_online() && !self.closed.get()
    }

    async fn round(self: &Rc<Self>) {
        let force = self.force.replace(false);
        let Some(store) = self.store.upgrade() else { return };
        if self.may_sync() {
            let env = SystemEnvironment;
            // Sync keeps its outbox in IndexedDB (`open` refuses `sync` with memory).
            let Backend::IndexedDb(db) = &*store.backend else { return };
            let result = if force { self.engine.run_now(db, &env).await } else { self.engine.run(db, &env).await };
            match result {
                Ok(report) => self.after_round(&store, report).await,
                Err(e) => {
                    self.status.borrow_mut().last_error = Some(Failure { status: None, message: e.to_string() });
                    self.emit("error", &to_js(&e));
                }
            }
        }
        self.refresh(&store).await;
        // Events pending and the server out of reach: let a service worker finish the job
        // when the network is back (once per outage).
        let (pending, failing) = {
            let status = self.status.borrow();
            (status.pending > 0.0, status.last_error.is_some() || !is_online())
        };
        if pending && failing {
            if !self.background_requested.replace(true) {
                self.request_background_sync();
            }
        } else {
            self.background_requested.set(false);
        }
    }

    async fn after_round(self: &Rc<Self>, store: &Rc<Shared>, report: SyncReport) {
        if report.pushed > 0 || report.pulled > 0 || report.conflicted > 0 || report.dead_lettered > 0 {
            self.last_progress_at.set(now());
        }
        {
            let mut status = self.status.borrow_mut();
            status.next_retry_at = report.next_attempt_at.map(|t| t as f64);
            if report.last_error.is_none() && report.auth_failed.is_none() {
                status.last_synced_at = Some(now());
                status.last_error = None;
            } else {
                status.last_error = report.last_error.clone().or_else(|| report.auth_failed.clone());
            }
        }
        if report.pulled > 0 || report.conflicted > 0 || report.dead_lettered > 0 {
            // The local log changed under the subscribers: let every tab re-read.
            store.notify_changed();
        }
        if report.conflicted > 0 {
            if let OnConflict::Resolve(resolve) = &self.on_conflict {
                self.resolve_conflicts(store, resolve).await;
            }
            self.emit("conflict", &report_to_js(&report));
        }
        if let Some(auth) = &report.auth_failed {
            *self.auth_failed.borrow_mut() = Some(auth.clone());
            let error = sync_error(auth, "auth");
            self.emit("error", &error);
        } else if let Some(failure) = &report.last_error {
            self.emit("error", &sync_error(failure, "network"));
        }
        if report.pushed > 0 || report.pulled > 0 {
            self.emit("synced", &report_to_js(&report));
        }
        if report.more_now {
            self.again.set(true);
        }
    }

    /// Asks the browser for a Background Sync (`SyncManager.register`) with the tag
    /// `tidelog:<database>`, so a service worker can push the outbox when the network is
    /// back even if every page is closed (see the README's service-worker snippet). A
    /// no-op where there is no service worker registration or no Background Sync API.
    fn request_background_sync(&self) {
        let container = get(&get(&global(), "navigator"), "serviceWorker");
        let Ok(get_registration) = get(&container, "getRegistration").dyn_into::<Function>() else { return };
        let Ok(pending) = get_registration.call0(&container).and_then(|p| p.dyn_into::<Promise>()) else { return };
        let tag = JsValue::from_str(&self.background_tag);
        let register = Closure::<dyn FnMut(JsValue)>::new(move |registration: JsValue| {
            let sync = get(&registration, "sync");
            if let Ok(register) = get(&sync, "register").dyn_into::<Function>() {
                if let Ok(promise) = register.call1(&sync, &tag).and_then(|p| p.dyn_into::<Promise>()) {
                    // Refused (e.g. no permission in this context): the timer and the
                    // `online` event still drive sync.
                    let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
                    let _ = promise.catch(&ignore);
                    ignore.forget();
                }
            }
        });
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let _ = pending.then2(&register, &ignore);
        // Once per outage (see `background_requested`): two small closures kept alive.
        register.forget();
        ignore.forget();
    }

    /// Hands each quarantined conflict to the app's `onConflict` function; its answer
    /// (events to append after the remote ones; `[]`/`null` to drop the local events;
    /// `undefined` to keep it quarantined) settles it.
    async fn resolve_conflicts(&self, store: &Rc<Shared>, resolve: &Function) {
        let Backend::IndexedDb(db) = &*store.backend else { return };
        let Ok(conflicts) = db.conflict_records().await else { return };
        for conflict in conflicts.iter() {
            let id = get(&conflict, "id").as_f64().unwrap_or(-1.0);
            let mut answer = resolve.call1(&JsValue::UNDEFINED, &conflict);
            if let Ok(value) = &answer {
                if let Some(promise) = value.dyn_ref::<Promise>() {
                    answer = JsFuture::from(promise.clone()).await;
                }
            }
            let outcome = match answer {
                Ok(value) if value.is_undefined() => continue,
                Ok(value) if value.is_null() => db.discard_conflict(id).await.map(drop),
                Ok(value) => match conflict_events(&value) {
                    Ok(events) => db.settle_conflict(id, Some(events)).await.map(drop),
                    Err(error) => {
                        self.emit("error", &error);
                        continue;
                    }
                },
                Err(thrown) => {
                    self.emit("error", &thrown);
                    continue;
                }
            };
            if let Err(e) = outcome {
                self.emit("error", &to_js(&e));
            }
        }
    }

    /// Re-reads the counters, checks the watchdog and waiters, emits `status`.
    async fn refresh(self: &Rc<Self>, store: &Rc<Shared>) {
        let Backend::IndexedDb(db) = &*store.backend else {
            self.emit("status", &self.status_js());
            return;
        };
        let (outbox, conflicts, dead) = (db.outbox_records().await, db.conflict_records().await, db.dead_letter_records().await);
        {
            let mut status = self.status.borrow_mut();
            if let Ok(outbox) = &outbox {
                status.pending_streams = f64::from(outbox.length());
                status.pending = outbox.iter().fold(0.0, |sum, e| sum + get(&e, "pending").as_f64().unwrap_or(0.0));
                status.pending_bytes = outbox.iter().fold(0.0, |sum, e| sum + get(&e, "pendingBytes").as_f64().unwrap_or(0.0));
                status.oldest_pending_at = outbox.iter().filter_map(|e| get(&e, "oldestPendingAt").as_f64()).reduce(f64::min);
            }
            if let Ok(c) = &conflicts {
                status.conflicts = f64::from(c.length());
            }
            if let Ok(d) = &dead {
                status.dead_letters = f64::from(d.length());
            }
            if status.pending == 0.0 {
                self.last_progress_at.set(now());
            }
            let stalled = status.pending > 0.0
                && self.may_sync()
                && now() - self.last_progress_at.get() > self.stall_ms;
            let newly_stalled = stalled && !status.stalled;
            status.stalled = stalled;
            drop(status);
            if newly_stalled {
                let message = format!("sync is stalled: events are pending and none reached the server for {} s", (self.stall_ms / 1000.0) as u64);
                self.emit("error", &sync_error(&Failure { status: None, message }, "stalled"));
            }
        }
        self.check_waiters(db).await;
        self.emit("status", &self.status_js());
    }

    async fn check_waiters(&self, db: &crate::web::indexeddb::IndexedDbStore) {
        let waiters: Vec<(EventId, Function)> = self.waiters.borrow().clone();
        if waiters.is_empty() {
            return;
        }
        let mut done = Vec::new();
        for (id, resolve) in &waiters {
            if let Ok(true) = db.is_acknowledged(id).await {
                let _ = resolve.call0(&JsValue::UNDEFINED);
                done.push(id.clone());
            }
        }
        self.waiters.borrow_mut().retain(|(id, _)| !done.contains(id));
    }

    /// Arms the timer: the next backoff deadline, or the poll interval.
    fn schedule(self: &Rc<Self>) {
        if self.closed.get() {
            return;
        }
        let target = global();
        if let (Some(timer), Ok(clear)) = (self.timer.take(), get(&target, "clearTimeout").dyn_into::<Function>()) {
            let _ = clear.call1(&target, &timer.into());
        }
        let poll = if is_hidden() { f64::from(self.poll_ms) * 4.0 } else { f64::from(self.poll_ms) };
        let delay = match self.status.borrow().next_retry_at {
            Some(at) => (at - now()).clamp(0.0, poll),
            None => poll,
        };
        let weak = Rc::downgrade(self);
        let callback = Closure::once_into_js(move || {
            if let Some(driver) = weak.upgrade() {
                driver.timer.set(None);
                driver.wake();
            }
        });
        if let Ok(set_timeout) = get(&target, "setTimeout").dyn_into::<Function>() {
            if let Ok(id) = set_timeout.call2(&target, &callback, &delay.into()) {
                self.timer.set(id.as_f64());
            }
        }
    }

    fn emit(&self, event: &str, detail: &JsValue) {
        let listeners: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(name, _, active)| name == event && active.get())
            .map(|(_, f, _)| f.clone())
            .collect();
        for listener in listeners {
            crate::web::glue::deliver(&listener, detail);
        }
    }

    fn status_js(&self) -> JsValue {
        let status = self.status.borrow();
        let js: JsValue = Object::new().into();
        set(&js, "online", is_online().into());
        set(&js, "paused", self.paused.get().into());
        set(&js, "leader", self.leader.get().into());
        set(&js, "pending", status.pending.into());
        set(&js, "pendingStreams", status.pending_streams.into());
        set(&js, "pendingBytes", status.pending_bytes.into());
        set(&js, "oldestPendingAge", status.oldest_pending_at.map_or(JsValue::NULL, |at| (now() - at).max(0.0).into()));
        set(&js, "inFlight", (self.running.get() && self.may_sync()).into());
        set(&js, "conflicts", status.conflicts.into());
        set(&js, "deadLetters", status.dead_letters.into());
        set(&js, "lastSyncedAt", status.last_synced_at.map_or(JsValue::NULL, JsValue::from));
        set(&js, "lastError", status.last_error.as_ref().map_or(JsValue::NULL, failure_to_js));
        set(&js, "nextRetryAt", status.next_retry_at.map_or(JsValue::NULL, JsValue::from));
        set(&js, "stalled", status.stalled.into());
        set(&js, "auth", self.auth_failed.borrow().as_ref().map_or(JsValue::NULL, failure_to_js));
        js
    }

    /// Stops: no more rounds, the lock is handed over, host listeners removed.
    pub(super) fn stop(&self) {
        self.closed.set(true);
        self.release_lock();
        let target = global();
        if let (Some(timer), Ok(clear)) = (self.timer.take(), get(&target, "clearTimeout").dyn_into::<Function>()) {
            let _ = clear.call1(&target, &timer.into());
        }
        let document = get(&target, "document");
        for (name, closure) in self.dom_listeners.borrow_mut().drain(..) {
            for host in [&target, &document] {
                if let Ok(remove) = get(host, "removeEventListener").dyn_into::<Function>() {
                    let _ = remove.call2(host, &name.as_str().into(), closure.as_ref());
                }
            }
        }
    }
}

/// A `SyncError` JS error (`name: "SyncError"`, `code`, `status`).
fn sync_error(failure: &Failure, code: &str) -> JsValue {
    let error = crate::web::glue::make_error("SyncError", &failure.message);
    set(&error, "code", code.into());
    set(&error, "status", failure.status.map_or(JsValue::NULL, |s| s.into()));
    error
}

fn report_to_js(report: &SyncReport) -> JsValue {
    let js: JsValue = Object::new().into();
    set(&js, "requests", report.requests.into());
    set(&js, "pushed", (report.pushed as f64).into());
    set(&js, "pulled", (report.pulled as f64).into());
    set(&js, "conflicted", (report.conflicted as f64).into());
    set(&js, "deadLettered", (report.dead_lettered as f64).into());
    js
}

/// Events an app hands back to settle a conflict: `[{ id?, type, data, meta?, schema? }]`.
fn conflict_events(value: &JsValue) -> Result<Vec<PushEvent<JsValue>>, JsValue> {
    let events = input::events(value)?.to_new_events()?;
    let env = SystemEnvironment;
    let mut ids = crate::event::IdGenerator::new();
    Ok(events
        .into_iter()
        .map(|e| PushEvent {
            id: e.id.unwrap_or_else(|| {
                use crate::env::Environment;
                ids.next_id(env.now_ms(), env.random_bytes())
            }),
            event_type: e.event_type,
            data: e.data,
            meta: e.meta,
            recorded_at: js_sys::Date::now() as u64,
            schema: e.schema,
        })
        .collect())
}

/// `store.sync`: the sync side of an event store opened with a `sync` option.
#[wasm_bindgen(js_name = Sync)]
pub struct SyncHandle {
    pub(super) driver: Rc<Driver>,
}

impl SyncHandle {
    fn db(&self) -> Result<Rc<Shared>, JsValue> {
        self.driver.store.upgrade().ok_or_else(|| to_js(&crate::error::Error::Closed))
    }
}

fn idb(store: &Shared) -> Result<&crate::web::indexeddb::IndexedDbStore, JsValue> {
    match &*store.backend {
        Backend::IndexedDb(db) => Ok(db),
        Backend::Memory(_) => Err(invalid("sync", "conflict and dead-letter lists need the IndexedDB storage")),
    }
}

#[wasm_bindgen(js_class = Sync)]
impl SyncHandle {
    /// Runs a round now (in the syncing tab; other tabs wake it) and resolves with the
    /// status afterwards.
    pub fn now(&self) -> Promise {
        let driver = self.driver.clone();
        future_to_promise(async move {
            if let Some(store) = driver.store.upgrade() {
                *driver.auth_failed.borrow_mut() = None;
                if !driver.leader.get() {
                    // Just opened: the Web Lock is usually granted within milliseconds.
                    // If another tab holds it, wake that tab; our round below then only
                    // refreshes the status.
                    for _ in 0..25 {
                        if driver.leader.get() {
                            break;
                        }
                        sleep(20).await;
                    }
                    if !driver.leader.get() {
                        store.notify_changed();
                    }
                }
                // Wait for any running round, then run one of our own.
                while driver.running.get() {
                    sleep(10).await;
                }
                driver.running.set(true);
                driver.force.set(true);
                driver.round().await;
                driver.running.set(false);
                driver.schedule();
            }
            Ok(driver.status_js())
        })
    }

    /// The current status snapshot (see the module docs for its fields).
    pub fn status(&self) -> JsValue {
        self.driver.status_js()
    }

    /// Listens to `"status"`, `"synced"`, `"conflict"` or `"error"`; returns a function
    /// that stops listening.
    pub fn on(&self, event: JsValue, callback: JsValue) -> Result<Function, JsValue> {
        let name = input::string(&event, "event")?;
        if !["status", "synced", "conflict", "error"].contains(&name.as_str()) {
            return Err(invalid("event", "must be \"status\", \"synced\", \"conflict\" or \"error\""));
        }
        let Some(callback) = callback.dyn_ref::<Function>() else {
            return Err(invalid("callback", "must be a function"));
        };
        let active = Rc::new(Cell::new(true));
        self.driver.listeners.borrow_mut().push((name, callback.clone(), active.clone()));
        Ok(Closure::<dyn FnMut()>::new(move || active.set(false)).into_js_value().unchecked_into())
    }

    /// Pauses syncing (the outbox keeps filling).
    pub fn pause(&self) {
        self.driver.paused.set(true);
        self.driver.emit("status", &self.driver.status_js());
    }

    /// Resumes syncing and runs a round.
    pub fn resume(&self) {
        self.driver.paused.set(false);
        *self.driver.auth_failed.borrow_mut() = None;
        self.driver.wake();
    }

    /// Replaces the bearer token (`null` for none) and resumes after an auth failure.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: JsValue) -> Result<(), JsValue> {
        let token = if token.is_null() || token.is_undefined() { None } else { Some(input::string(&token, "token")?) };
        self.driver.engine.transport().set_token(token);
        *self.driver.auth_failed.borrow_mut() = None;
        self.driver.wake();
        Ok(())
    }

    /// Resolves once the event `id` is stored on the server.
    pub fn acknowledged(&self, id: JsValue) -> Result<Promise, JsValue> {
        let id = EventId::new(input::string(&id, "id")?).map_err(|e| to_js(&e))?;
        let driver = self.driver.clone();
        Ok(Promise::new(&mut |resolve, _reject| {
            driver.waiters.borrow_mut().push((id.clone(), resolve));
            driver.wake();
        }))
    }

    /// The outbox: `[{ stream, pending, pendingBytes, oldestPendingAt, attempts, nextAttemptAt, leaseUntil,
    /// lastError }]`.
    pub async fn pending(&self) -> Result<Array, JsValue> {
        let store = self.db()?;
        idb(&store)?.outbox_records().await.map_err(|e| to_js(&e))
    }

    /// Quarantined conflicts: `[{ id, stream, local, remote, at }]`.
    pub async fn conflicts(&self) -> Result<Array, JsValue> {
        let store = self.db()?;
        idb(&store)?.conflict_records().await.map_err(|e| to_js(&e))
    }

    /// Dead letters: `[{ id, stream, events, failure: { status, message }, at }]`.
    #[wasm_bindgen(js_name = deadLetters)]
    pub async fn dead_letters(&self) -> Result<Array, JsValue> {
        let store = self.db()?;
        idb(&store)?.dead_letter_records().await.map_err(|e| to_js(&e))
    }

    /// Puts a dead letter's events back in the outbox (same ids).
    #[wasm_bindgen(js_name = retryDeadLetter)]
    pub async fn retry_dead_letter(&self, id: f64) -> Result<bool, JsValue> {
        let store = self.db()?;
        let done = idb(&store)?.retry_dead_letter(id).await.map_err(|e| to_js(&e))?;
        store.notify_changed();
        self.driver.wake();
        Ok(done)
    }

    /// Drops a dead letter for good.
    #[wasm_bindgen(js_name = discardDeadLetter)]
    pub async fn discard_dead_letter(&self, id: f64) -> Result<bool, JsValue> {
        let store = self.db()?;
        let done = idb(&store)?.discard_dead_letter(id).await.map_err(|e| to_js(&e))?;
        self.driver.wake();
        Ok(done)
    }

    /// Settles a conflict: `events` (default: its local events) are appended after the
    /// remote ones and synced.
    #[wasm_bindgen(js_name = resolveConflict)]
    pub async fn resolve_conflict(&self, id: f64, events: JsValue) -> Result<bool, JsValue> {
        let store = self.db()?;
        let events = if events.is_undefined() { None } else { Some(conflict_events(&events)?) };
        let done = idb(&store)?.settle_conflict(id, events).await.map_err(|e| to_js(&e))?;
        store.notify_changed();
        self.driver.wake();
        Ok(done)
    }

    /// Drops a conflict's local events for good.
    #[wasm_bindgen(js_name = discardConflict)]
    pub async fn discard_conflict(&self, id: f64) -> Result<bool, JsValue> {
        let store = self.db()?;
        let done = idb(&store)?.discard_conflict(id).await.map_err(|e| to_js(&e))?;
        self.driver.wake();
        Ok(done)
    }
}

async fn sleep(ms: u32) {
    let promise = Promise::new(&mut |resolve, _| {
        let target = global();
        if let Ok(set_timeout) = get(&target, "setTimeout").dyn_into::<Function>() {
            let _ = set_timeout.call2(&target, &resolve, &ms.into());
        }
    });
    let _ = JsFuture::from(promise).await;
}
