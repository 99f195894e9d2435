//! Live subscriptions (`store.subscribe`): each subscriber keeps a cursor (the next
//! position it wants). A single "pump" task reads the log from the lowest cursor in pages
//! and hands each event to every subscriber whose cursor it reaches, so delivery is in
//! position order, never twice, and never skips an event, whoever wrote it. The pump is
//! woken by this store's own appends and, across tabs and workers, by the database's
//! `BroadcastChannel` (see `shared.rs`, which owns a store's [`Subscriptions`]).
//!
//! Events sync moved to new positions (a rebase: same id, new version and position) are
//! not delivered again to a subscriber that already had them at their old place: each
//! pump page is read with the move log ([`MoveTracker`]); such a subscriber gets the
//! move through its `onMoved` callback instead, if it has one (a projection rebuilds).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::backend::Backend;
use super::errors::to_js;
use super::event_store::{call, Call};
use super::input::JsResult;
use crate::event::Position;
use crate::replay::{Move, MoveTracker};
use crate::web::glue;

/// Events read per page by the subscription pump.
const PUMP_PAGE: usize = 256;

/// One subscriber.
pub(super) struct Subscription {
    callback: Function,
    active: Rc<Cell<bool>>,
    /// Next position this subscriber wants; `None` until the pump reads the head.
    cursor: Cell<Option<Position>>,
    /// Where it started: it has every event from here to its cursor (`None` until the
    /// pump reads the head). A projection's feed has everything before too.
    start: Cell<Option<Position>>,
    /// Called with a notice for each event it had and sync moved (`onMoved`).
    on_moved: Option<Function>,
    /// The moves it has taken into account.
    moves: RefCell<MoveTracker>,
}

/// A store's subscribers and the state of its pump.
#[derive(Default)]
pub(super) struct Subscriptions {
    list: RefCell<Vec<Rc<Subscription>>>,
    /// The store syncs: delivered events carry `pending`.
    pub(super) mark_pending: Cell<bool>,
    pumping: Cell<bool>,
    woken: Cell<bool>,
}

impl Subscriptions {
    /// Stops every subscriber (the store is closing).
    pub(super) fn stop_all(&self) {
        for s in self.list.borrow_mut().drain(..) {
            s.active.set(false);
        }
    }
}

/// Adds a subscriber from `cursor` (`None`: from the next event appended) and returns the
/// function that stops it.
/// `on_moved` gets a notice `{ stream, id, from: { version, position }, to: { version,
/// position } }` for each event it had that sync moved, which it is not given again.
/// `had_before` (a projection's feed) says it has every event before `cursor` too, as of
/// the moves that tracker reflects.
pub(super) fn add(
    backend: &Rc<Backend>,
    subs: &Rc<Subscriptions>,
    callback: Function,
    cursor: Option<Position>,
    on_moved: Option<Function>,
    had_before: Option<MoveTracker>,
) -> Function {
    let active = Rc::new(Cell::new(true));
    let start = if had_before.is_some() { Some(Position(1)) } else { cursor };
    subs.list.borrow_mut().push(Rc::new(Subscription {
        callback,
        active: active.clone(),
        cursor: Cell::new(cursor),
        start: Cell::new(start),
        on_moved,
        moves: RefCell::new(had_before.unwrap_or_default()),
    }));
    wake(backend, subs);
    let stop = Closure::<dyn FnMut(JsValue)>::new(move |_| active.set(false));
    stop.into_js_value().unchecked_into()
}

/// Wakes the subscription pump (coalescing: a wake during a pump run causes one more run).
pub(super) fn wake(backend: &Rc<Backend>, subs: &Rc<Subscriptions>) {
    if subs.list.borrow().is_empty() {
        return;
    }
    subs.woken.set(true);
    if subs.pumping.replace(true) {
        return;
    }
    // In the store's future (one future type for the whole store); its promise always
    // resolves.
    let _ = call(Call::Pump(backend.clone(), subs.clone()));
}

/// Runs the pump while it is woken (see [`wake`]).
pub(super) async fn run(backend: &Backend, subs: &Subscriptions) {
    while subs.woken.replace(false) {
        if let Err(error) = pump(backend, subs).await {
            if backend.closed() {
                break;
            }
            // Surface, never swallow: the next wake retries from the same cursors.
            web_sys::console::error_2(&"tidelog: subscription delivery failed".into(), &error);
        }
    }
    subs.pumping.set(false);
}

async fn pump(backend: &Backend, subs: &Subscriptions) -> JsResult<()> {
    loop {
        let subscriptions: Vec<Rc<Subscription>> = {
            let mut all = subs.list.borrow_mut();
            all.retain(|s| s.active.get());
            all.clone()
        };
        if subscriptions.is_empty() || backend.closed() {
            return Ok(());
        }
        if subscriptions.iter().any(|s| s.cursor.get().is_none()) {
            let next = backend.head_position().await?.next().map_err(|e| to_js(&e.into()))?;
            for s in &subscriptions {
                if s.cursor.get().is_none() {
                    s.cursor.set(Some(next));
                    s.start.set(Some(next));
                }
            }
        }
        let from = subscriptions.iter().filter_map(|s| s.cursor.get()).min().unwrap_or_default();
        let (page, epoch, log) = match backend.read_all_with_moves(from, PUMP_PAGE).await {
            Ok(read) => read,
            Err(e) if glue::get(&e, "code").as_string().as_deref() == Some("not_retained") => {
                end_at(&subscriptions, from, &e);
                continue;
            }
            Err(e) => return Err(e),
        };
        if subs.mark_pending.get() {
            if let Some(db) = backend.indexeddb() {
                db.mark_pending(&page).await.map_err(|e| to_js(&e))?;
            }
        }
        for s in &subscriptions {
            observe_moves(s, epoch, &log);
        }
        for record in page.iter() {
            let position =
                Reflect::get(&record, &"position".into())?.as_f64().unwrap_or(0.0) as u64;
            for s in &subscriptions {
                if s.active.get() && s.cursor.get().is_some_and(|c| c.0 <= position) {
                    s.cursor.set(Some(Position(position + 1)));
                    if !s.moves.borrow_mut().take_seen(Position(position)) {
                        glue::deliver(&s.callback, &record);
                    }
                }
            }
        }
        if (page.length() as usize) < PUMP_PAGE {
            return Ok(());
        }
    }
}

/// Ends the subscriptions whose cursor is `from`, where a read was refused below
/// retention's floor (their events were dropped: they cannot be delivered in order),
/// reporting `error` (a `NotRetainedError`) for each; the others go on (one still below
/// the floor is refused at the next read, and ended the same way).
fn end_at(subscriptions: &[Rc<Subscription>], from: Position, error: &JsValue) {
    for s in subscriptions {
        if s.cursor.get() == Some(from) {
            s.active.set(false);
            glue::report(error, "tidelog: subscription ended, its start is below retention");
        }
    }
}

/// Takes the moves since the subscriber's last page into account; tells its `onMoved`
/// about the events it had.
fn observe_moves(s: &Subscription, epoch: u64, log: &[Move<JsValue>]) {
    let (Some(start), Some(cursor)) = (s.start.get(), s.cursor.get()) else {
        return;
    };
    let moved = s.moves.borrow_mut().observe(epoch, log, start, cursor);
    let Some(on_moved) = &s.on_moved else {
        return;
    };
    if moved.lost {
        // Moves it may have had are gone from the log: say so without an event.
        glue::deliver(on_moved, &JsValue::NULL);
    }
    for m in moved.seen {
        // The logged entry, `{ epoch, stream, id, from, to }`, as the notice.
        glue::deliver(on_moved, &m.note);
    }
}
