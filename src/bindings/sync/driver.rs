//! The sync driver of one store: wires the host's events, the Web Lock and the timer to
//! the [`SyncEngine`] and to the decisions of [`DriverState`] (`sync::driver`).

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::config::{OnConflict, SyncConfig};
use super::events::{progress_to_js, report_to_js, status_to_js, sync_error, Listeners, SyncEvent};
use super::link::Link;
use crate::bindings::errors::to_js;
use crate::env::{Environment, SystemEnvironment};
use crate::error::Error;
use crate::event::EventId;
use crate::store::EventStore as _;
use crate::sync::{DriverState, OutboxSummary, SyncEngine, SyncErrorKind, SyncReport};
use crate::web::fetch::FetchTransport;
use crate::web::glue::{self, get, set, storage_estimate};
use crate::web::host::{self, EventSource, HostListener, Timeout};
use crate::web::indexeddb::IndexedDbStore;

/// The sync driver of one store.
pub(in crate::bindings) struct Driver {
    /// The store: its database (this side's own connection) and its calls.
    pub(super) link: Link,
    pub(super) engine: SyncEngine<FetchTransport>,
    /// The app's `onConflict` function, if it gave one.
    resolver: Option<Function>,
    /// The Web Lock the syncing instance holds: `tidelog-sync:<database>`.
    lock_name: String,
    /// The Background Sync tag: `tidelog:<database>`.
    background_tag: String,
    /// The decisions; borrowed only through [`state`](Driver::state), never across an
    /// `await` or a call into JS.
    state: RefCell<DriverState>,
    timer: Cell<Option<Timeout>>,
    /// Resolves the Web Lock's promise: hands the lock over.
    release: Cell<Option<Function>>,
    pub(super) listeners: Listeners,
    /// `acknowledged(id)` promises waiting for their event to reach the server.
    waiters: Cell<Vec<(EventId, Function)>>,
    /// The promises handed out and not settled yet (`now()`, `acknowledged(id)`), as
    /// `untilClosed` of `js/util.js` keeps them: closing rejects each with `ClosedError`
    /// (a round in flight may never end once the connection closed).
    closing: JsValue,
    /// `online`, `offline`, `visibilitychange`, `freeze`, `resume`.
    host_listeners: Cell<Vec<HostListener>>,
    /// The app's token source (`sync.auth`), and whether it was asked yet.
    auth: Option<Function>,
    auth_asked: Cell<bool>,
    /// The local database was created by this open and has not caught up with the
    /// server yet (`status().rebuilding`).
    rebuilding: Cell<bool>,
    /// The `rebuild` event went out.
    rebuild_told: Cell<bool>,
    /// `navigator.storage.estimate()` after the last round (`status().storage`).
    storage: RefCell<JsValue>,
}

fn now() -> u64 {
    SystemEnvironment.now_ms()
}

/// Sums `outbox_records()` (`[{ pendingCount, pendingBytes, oldestPendingAt, ... }]`).
fn outbox_summary(records: &Array) -> OutboxSummary {
    let mut summary = OutboxSummary::default();
    for record in records.iter() {
        let number = |key: &str| get(&record, key).as_f64().map(|n| n.max(0.0) as u64);
        summary.add(
            number("pendingCount").unwrap_or(0),
            number("pendingBytes").unwrap_or(0),
            number("oldestPendingAt"),
        );
    }
    summary
}

impl Driver {
    /// Starts syncing the store `link` stands for (the database `database`) as `config`
    /// says.
    pub(super) fn start(link: Link, database: &str, config: SyncConfig) -> Rc<Driver> {
        let options = config.engine_options();
        let transport = FetchTransport::new(config.url, config.token, config.timeout_ms);
        let auth = config.auth;
        let resolver = match config.on_conflict {
            OnConflict::Resolve(resolve) => Some(resolve),
            OnConflict::Rebase | OnConflict::Quarantine => None,
        };
        let state = DriverState::new(
            u64::from(config.poll_ms),
            u64::from(config.stall_ms),
            config.paused,
            now(),
        );
        let rebuilding = link.created;
        let driver = Rc::new(Driver {
            link,
            engine: SyncEngine::new(transport, options),
            resolver,
            lock_name: format!("tidelog-sync:{database}"),
            background_tag: format!("tidelog:{database}"),
            state: RefCell::new(state),
            timer: Cell::default(),
            release: Cell::default(),
            listeners: Listeners::default(),
            waiters: Cell::default(),
            closing: js_sys::Set::new(&JsValue::UNDEFINED).into(),
            host_listeners: Cell::default(),
            auth,
            auth_asked: Cell::new(false),
            rebuilding: Cell::new(rebuilding),
            rebuild_told: Cell::new(false),
            storage: RefCell::new(JsValue::NULL),
        });
        let weak = Rc::downgrade(&driver);
        driver.engine.on_progress(move |progress| {
            let Some(driver) = weak.upgrade() else { return };
            let detail = progress_to_js(&progress);
            if driver.rebuilding.get() && !driver.rebuild_told.replace(true) {
                driver.emit(SyncEvent::Rebuild, &detail);
            }
            driver.emit(SyncEvent::Progress, &detail);
        });
        driver.listen_to_host();
        driver.request_lock();
        // A first round even before leading: the status reflects the stored outbox.
        driver.wake();
        driver
    }

    fn listen_to_host(self: &Rc<Self>) {
        let events = [
            (EventSource::Global, "online"),
            (EventSource::Global, "offline"),
            (EventSource::Document, "visibilitychange"),
            (EventSource::Document, "freeze"),
            (EventSource::Document, "resume"),
        ];
        let mut listeners = Vec::new();
        for (source, kind) in events {
            let weak = Rc::downgrade(self);
            let listener = HostListener::new(source, kind, move || {
                let Some(driver) = weak.upgrade() else { return };
                match kind {
                    // A frozen tab hands the lock over; a resumed one queues again.
                    "freeze" => driver.release_lock(),
                    "resume" => driver.request_lock(),
                    // The network is back: do not wait for backoff deadlines.
                    "online" => driver.wake_forced(),
                    _ => driver.wake(),
                }
            });
            listeners.extend(listener);
        }
        self.host_listeners.set(listeners);
    }

    /// Queues for the Web Lock; the holder syncs. Without Web Locks: lead at once.
    fn request_lock(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let requested = host::request_lock(&self.lock_name, move || {
            let Some(driver) = weak.upgrade() else { return JsValue::UNDEFINED };
            if driver.state().closed() {
                return JsValue::UNDEFINED;
            }
            let held = Promise::new(&mut |resolve, _| {
                driver.release.set(Some(resolve));
            });
            driver.state().set_leader(true);
            // Taking over: leases left by a tab that crashed mid-send are void.
            driver.wake_forced();
            held.into()
        });
        if !requested {
            self.state().set_leader(true);
            self.wake();
        }
    }

    fn release_lock(&self) {
        self.state().set_leader(false);
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }

    /// Asks for a round soon (coalescing: a wake during a round causes one more).
    pub(super) fn wake(self: &Rc<Self>) {
        let start = self.state().wake();
        if start {
            self.run_rounds();
        }
    }

    /// Like [`wake`](Self::wake); that round ignores backoff deadlines and leases.
    fn wake_forced(self: &Rc<Self>) {
        let start = self.state().wake_forced();
        if start {
            self.run_rounds();
        }
    }

    /// The round loop: rounds while triggers asked for them, then the timer and a status.
    fn run_rounds(self: &Rc<Self>) {
        let driver = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            while driver.state().next_round() {
                driver.round().await;
            }
            driver.state().loop_done();
            driver.schedule();
            driver.emit(SyncEvent::Status, &driver.status_js());
        });
    }

    /// `promise`, or a rejection with `ClosedError` if the store is closed or closes
    /// before it settles.
    pub(super) fn until_closed(&self, promise: Promise) -> Promise {
        if self.state().closed() {
            return Promise::reject(&to_js(&Error::Closed));
        }
        glue::until_closed(&promise, &self.closing)
    }

    /// A forced round of this instance's own, once any running round ended (none once
    /// the store is closed): `sync.now()`.
    pub(super) async fn run_now(self: &Rc<Self>) {
        if self.state().closed() {
            return;
        }
        self.state().clear_auth();
        if !self.state().leader() {
            // Just opened: the Web Lock is usually granted within milliseconds. If
            // another tab holds it, wake that tab; our round below then only refreshes
            // the status.
            for _ in 0..25 {
                if self.state().leader() {
                    break;
                }
                host::sleep(20).await;
            }
            if !self.state().leader() {
                self.link.changed();
            }
        }
        while !self.state().try_run_now() {
            if self.state().closed() {
                return;
            }
            host::sleep(10).await;
        }
        self.round().await;
        let more = self.state().now_done();
        if more {
            self.run_rounds();
        } else {
            self.schedule();
        }
    }

    fn may_sync(&self) -> bool {
        self.state().may_sync(host::is_online())
    }

    async fn round(self: &Rc<Self>) {
        let force = self.state().take_force();
        if self.state().closed() {
            return;
        }
        let db = &self.link.db;
        if self.may_sync() {
            if !self.auth_asked.get() && self.auth.is_some() {
                // The app's token before the first request.
                if let Err(report) = self.ask_token().await {
                    self.after_round(db, &report).await;
                    self.refresh(db).await;
                    return;
                }
            }
            let env = SystemEnvironment;
            let mut result = self.engine.round(db, &env, force).await;
            let refused = |r: &SyncReport| matches!(&r.paused, Some((SyncErrorKind::Auth, f)) if f.status == Some(401));
            if self.auth.is_some() && result.as_ref().is_ok_and(refused) {
                // A 401: ask the app once for a fresh token and retry the round (the
                // protocol makes the retried requests safe); a second 401 pauses.
                result = match self.ask_token().await {
                    Ok(()) => self.engine.round(db, &env, true).await,
                    Err(report) => Ok(report),
                };
            }
            match result {
                Ok(report) => self.after_round(db, &report).await,
                Err(e) => {
                    self.state().round_failed(e.to_string());
                    self.emit(SyncEvent::Error, &to_js(&e));
                }
            }
        }
        self.refresh(db).await;
    }

    /// Calls the app's `sync.auth()` (a token, or a promise of one) and sends that token
    /// from now on. `Err` is a round report that pauses sync with an `auth` error (the
    /// function threw or rejected, or gave no token); its message never holds a token.
    async fn ask_token(&self) -> Result<(), SyncReport> {
        self.auth_asked.set(true);
        let Some(auth) = &self.auth else { return Ok(()) };
        let fail = |why: String| SyncReport {
            paused: Some((
                SyncErrorKind::Auth,
                crate::outbox::Failure { status: None, message: why },
            )),
            ..SyncReport::default()
        };
        let answer = match auth.call0(&JsValue::UNDEFINED) {
            Ok(value) => match value.dyn_ref::<Promise>() {
                Some(promise) => wasm_bindgen_futures::JsFuture::from(promise.clone()).await,
                None => Ok(value),
            },
            Err(e) => Err(e),
        };
        match answer {
            Ok(token) => match token.as_string().filter(|t| !t.is_empty()) {
                Some(token) => {
                    self.engine.transport().set_token(Some(token));
                    Ok(())
                }
                None => Err(fail("sync.auth() gave no token (a non-empty string)".into())),
            },
            Err(e) => {
                Err(fail(format!("sync.auth() failed: {}", crate::web::glue::describe_thrown(&e))))
            }
        }
    }

    async fn after_round(&self, db: &IndexedDbStore, report: &SyncReport) {
        if report.last_error.is_none() && report.paused.is_none() && !report.more_now {
            // A whole round without a failure: the pull reached the server's head.
            self.rebuilding.set(false);
        }
        let effects = self.state().round_done(report, now());
        if effects.notify_changed {
            // The local log changed under the subscribers: let every tab re-read.
            self.link.changed();
        }
        if effects.conflict {
            if let Some(resolve) = &self.resolver {
                self.resolve_conflicts(db, resolve).await;
            }
            self.emit(SyncEvent::Conflict, &report_to_js(report));
        }
        if let Some((kind, failure)) = &effects.error {
            self.emit(SyncEvent::Error, &sync_error(*kind, failure));
        }
        if effects.compact && self.link.retains() {
            if let Err(e) = self.link.compact().await {
                crate::web::glue::report(&e, "tidelog: retention after a sync round");
            }
        }
        if effects.synced {
            self.emit(SyncEvent::Synced, &report_to_js(report));
        }
    }

    /// Re-reads the counters, checks the watchdog and waiters, emits `status`; asks for
    /// Background Sync when the state says so.
    async fn refresh(&self, db: &IndexedDbStore) {
        let outbox = db.outbox_records().await.ok().map(|records| outbox_summary(&records));
        let conflicts = db.conflict_records().await.ok().map(|c| u64::from(c.length()));
        let dead_letters = db.dead_letter_records().await.ok().map(|d| u64::from(d.length()));
        let refreshed =
            self.state().refresh(outbox, conflicts, dead_letters, host::is_online(), now());
        if let Some(failure) = &refreshed.stalled {
            self.emit(SyncEvent::Error, &sync_error(SyncErrorKind::Stalled, failure));
        }
        self.check_waiters(db).await;
        if let Ok(estimate) = JsFuture::from(storage_estimate()).await {
            *self.storage.borrow_mut() = estimate;
        }
        self.emit(SyncEvent::Status, &self.status_js());
        if refreshed.request_background_sync {
            // Events pending and the server out of reach: a service worker that opens the
            // same store on this tag's `sync` event finishes the job, even with every
            // page closed (see the README's service-worker snippet).
            host::register_background_sync(self.background_tag.clone());
        }
    }

    /// Adds an `acknowledged(id)` promise's `resolve`, for the next refresh to check.
    pub(super) fn wait_for(&self, id: EventId, resolve: Function) {
        let mut waiters = self.waiters.take();
        waiters.push((id, resolve));
        self.waiters.set(waiters);
    }

    async fn check_waiters(&self, db: &IndexedDbStore) {
        let waiters = self.waiters.take();
        let mut waiting = Vec::new();
        for (id, resolve) in waiters {
            if let Ok(true) = db.is_acknowledged(&id).await {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            } else {
                waiting.push((id, resolve));
            }
        }
        // Plus those added while this check awaited.
        waiting.append(&mut self.waiters.take());
        self.waiters.set(waiting);
    }

    /// Arms the timer: the next backoff deadline, or the poll interval.
    fn schedule(self: &Rc<Self>) {
        let delay = {
            let state = self.state();
            if state.closed() {
                return;
            }
            state.next_wake_in(now(), host::is_hidden())
        };
        let weak = Rc::downgrade(self);
        let timeout = Timeout::new(delay, move || {
            if let Some(driver) = weak.upgrade() {
                drop(driver.timer.take());
                driver.wake();
            }
        });
        // Replacing the timer clears the one before.
        drop(self.timer.replace(Some(timeout)));
    }

    /// The decisions (one borrow site for the whole driver).
    pub(super) fn state(&self) -> RefMut<'_, DriverState> {
        self.state.borrow_mut()
    }

    /// Hands `detail` to the app's listeners of `event`.
    pub(super) fn emit(&self, event: SyncEvent, detail: &JsValue) {
        self.listeners.emit(event as u8, detail);
    }

    /// The status snapshot as JS.
    pub(super) fn status_js(&self) -> JsValue {
        let online = host::is_online();
        let js = status_to_js(&self.state().status(online));
        set(&js, "rebuilding", self.rebuilding.get().into());
        set(&js, "storage", self.storage.borrow().clone());
        js
    }

    /// Stops: no more rounds, the lock is handed over, host listeners removed, every
    /// promise still waiting (`now()`, `acknowledged(id)`) rejects with `ClosedError`, and
    /// the connection closes. Once (later calls do nothing).
    pub(super) fn stop(&self) {
        if self.state().closed() {
            return;
        }
        self.state().close();
        self.link.db.close();
        self.release_lock();
        drop(self.timer.take());
        drop(self.host_listeners.take());
        drop(self.waiters.take());
        glue::reject_all(&self.closing, &to_js(&Error::Closed));
    }
}
