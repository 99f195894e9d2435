//! Event listener lists ([`Listeners`]): `sync.on`'s and the store's `closed`.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::web::glue::deliver;

struct Listener {
    event: u8,
    callback: Function,
    active: Rc<Cell<bool>>,
}

/// Listeners by event: `sync.on`'s events (`SyncEvent as u8`) or the store's `closed`
/// (`shared::CLOSED_EVENT`). One type, not one per event enum: the browser wasm carries it once.
#[derive(Default)]
pub(super) struct Listeners(Cell<Vec<Listener>>);

impl Listeners {
    /// Calls `callback` on each `event`; returns the function that stops it.
    pub(super) fn add(&self, event: u8, callback: Function) -> Function {
        let active = Rc::new(Cell::new(true));
        let mut listeners = self.0.take();
        listeners.retain(|l| l.active.get());
        listeners.push(Listener { event, callback, active: active.clone() });
        self.0.set(listeners);
        Closure::<dyn FnMut(JsValue)>::new(move |_| active.set(false))
            .into_js_value()
            .unchecked_into()
    }

    /// Hands `detail` to every active listener of `event` (what one throws is reported,
    /// and the others still get it).
    pub(super) fn emit(&self, event: u8, detail: &JsValue) {
        let listeners = self.0.take();
        let callbacks: Vec<Function> = listeners
            .iter()
            .filter(|l| l.event == event && l.active.get())
            .map(|l| l.callback.clone())
            .collect();
        self.0.set(listeners);
        // Called with the list back in place: a listener may add another.
        for callback in callbacks {
            deliver(&callback, detail);
        }
    }
}
