//! Typed access to the host's globals: timers, `navigator.onLine`, the page's visibility
//! and its events, Web Locks, Background Sync.
//!
//! Private `extern "C"` declarations (gloo's pattern, no `Reflect` with string keys)
//! behind small functions that degrade where a host lacks an API, each the way the sync
//! driver has always feature-detected it:
//!
//! | API | missing in | then |
//! |---|---|---|
//! | `navigator.onLine` | Node | online |
//! | `document` (visibility, `visibilitychange`, `freeze`, `resume`) | workers, Node | visible; no such events |
//! | `addEventListener` on the global object (`online`, `offline`) | Node | no such events |
//! | `navigator.locks` | Node, older browsers | [`request_lock`] says so: the caller leads at once |
//! | `navigator.serviceWorker`, `registration.sync` | workers, Node, Firefox, Safari | no Background Sync |
//!
//! `setTimeout` and `clearTimeout` exist in every host tidelog runs in; Web Locks and
//! Background Sync report failures through their promises, which are ignored (a refused
//! lock request or registration is not an error).

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);

    /// `globalThis`: a window, a worker scope, Node's global object.
    type Global;

    #[wasm_bindgen(method, structural, getter)]
    fn navigator(this: &Global) -> Option<Navigator>;

    #[wasm_bindgen(method, structural, getter)]
    fn document(this: &Global) -> Option<Document>;

    /// `Navigator` or `WorkerNavigator`.
    type Navigator;

    #[wasm_bindgen(method, structural, getter, js_name = onLine)]
    fn on_line(this: &Navigator) -> Option<bool>;

    #[wasm_bindgen(method, structural, getter)]
    fn locks(this: &Navigator) -> Option<LockManager>;

    // Throws in some contexts (e.g. a SecurityError where storage is blocked).
    #[wasm_bindgen(method, structural, getter, catch, js_name = serviceWorker)]
    fn service_worker(this: &Navigator) -> Result<Option<ServiceWorkerContainer>, JsValue>;

    type Document;

    #[wasm_bindgen(method, structural, getter, js_name = visibilityState)]
    fn visibility_state(this: &Document) -> Option<String>;

    /// The global object or the document, as an event target.
    type Target;

    /// Throws where the target has no `addEventListener` (Node's global object).
    #[wasm_bindgen(method, structural, catch, js_name = addEventListener)]
    fn add_event_listener(this: &Target, kind: &str, listener: &Function) -> Result<(), JsValue>;

    #[wasm_bindgen(method, structural, js_name = removeEventListener)]
    fn remove_event_listener(this: &Target, kind: &str, listener: &Function);

    type LockManager;

    #[wasm_bindgen(method, structural)]
    fn request(this: &LockManager, name: &str, callback: &JsValue) -> Promise;

    type ServiceWorkerContainer;

    #[wasm_bindgen(method, structural, js_name = getRegistration)]
    fn get_registration(this: &ServiceWorkerContainer) -> Promise;

    type ServiceWorkerRegistration;

    #[wasm_bindgen(method, structural, getter)]
    fn sync(this: &ServiceWorkerRegistration) -> Option<SyncManager>;

    type SyncManager;

    #[wasm_bindgen(method, structural)]
    fn register(this: &SyncManager, tag: &str) -> Promise;
}

fn global() -> Global {
    js_sys::global().unchecked_into()
}

/// Whether the host says it is online (`navigator.onLine`); true where it cannot tell.
pub fn is_online() -> bool {
    global().navigator().and_then(|n| n.on_line()).unwrap_or(true)
}

/// Whether the page is hidden (`document.visibilityState`); false without a document.
pub fn is_hidden() -> bool {
    global().document().and_then(|d| d.visibility_state()).as_deref() == Some("hidden")
}

/// Where a host event is dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSource {
    /// The global object: `online`, `offline`.
    Global,
    /// The document: `visibilitychange`, `freeze`, `resume`.
    Document,
}

/// A listener for a host event, removed when dropped.
pub struct HostListener {
    target: Target,
    kind: &'static str,
    callback: Closure<dyn FnMut()>,
}

impl HostListener {
    /// Calls `callback` on each `kind` event of `source`; `None` where the host has no
    /// such source (no document, no `addEventListener` on the global object).
    pub fn new(
        source: EventSource,
        kind: &'static str,
        callback: impl FnMut() + 'static,
    ) -> Option<Self> {
        let target: Target = match source {
            EventSource::Global => global().unchecked_into(),
            EventSource::Document => global().document()?.unchecked_into(),
        };
        let callback = Closure::<dyn FnMut()>::new(callback);
        target.add_event_listener(kind, callback.as_ref().unchecked_ref()).ok()?;
        Some(HostListener { target, kind, callback })
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        self.target.remove_event_listener(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

/// A `setTimeout` that is cleared when dropped.
pub struct Timeout {
    handle: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `callback` once after `ms` milliseconds.
    pub fn new(ms: u64, callback: impl FnOnce() + 'static) -> Self {
        let callback = Closure::once(callback);
        let handle = set_timeout(callback.as_ref().unchecked_ref(), ms as f64);
        Timeout { handle, _callback: callback }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, f64::from(ms));
    });
    let _ = JsFuture::from(promise).await;
}

/// Queues for the Web Lock `name` (`navigator.locks.request(name, callback)`): `granted`
/// runs once the lock is ours, which it stays until the promise `granted` returns
/// settles. Returns false where the host has no Web Locks. A refused request (e.g. the
/// page is going away) is not an error.
pub fn request_lock(name: &str, granted: impl FnOnce() -> JsValue + 'static) -> bool {
    let Some(locks) = global().navigator().and_then(|n| n.locks()) else { return false };
    let callback = Closure::once_into_js(move |_lock: JsValue| granted());
    let request = JsFuture::from(locks.request(name, &callback));
    // Settles when the lock is released; a rejection is ignored.
    wasm_bindgen_futures::spawn_local(async move {
        let _ = request.await;
    });
    true
}

/// Registers the one-off Background Sync `tag` on the page's service worker registration
/// (`registration.sync.register(tag)`), so its `sync` event fires when the network is
/// back. A no-op without a service worker registration or the Background Sync API; a
/// refusal (e.g. no permission in this context) is not an error.
pub fn register_background_sync(tag: String) {
    let Some(container) = global().navigator().and_then(|n| n.service_worker().ok().flatten())
    else {
        return;
    };
    let registration = container.get_registration();
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(registration) = JsFuture::from(registration).await else { return };
        if registration.is_undefined() || registration.is_null() {
            return;
        }
        let registration: ServiceWorkerRegistration = registration.unchecked_into();
        let Some(sync) = registration.sync() else { return };
        let _ = JsFuture::from(sync.register(&tag)).await;
    });
}
