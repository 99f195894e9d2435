//! The replay API on `EventStore`: `replay`, `replayAll`, `replayReport`,
//! `replayAllReport`, `registerUpcaster` and `execute` (decide/evolve).
//!
//! Rust plans, JS folds: the pure [`ReplayCursor`] plans the pages and
//! [`CommandAttempts`] the retries of `execute`; each page comes from one store read
//! (IndexedDB's own array, never decoded in Rust) and is folded by ONE call into
//! `foldPage` (`js/fold.js`), so the reducer runs in a plain JS loop: no boundary crossing
//! and no serde per event, and the cost is linear in the events. The `Projection` class
//! drives the same [`PagedFold`] (`projection.rs`).

use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::errors::{invalid, to_js};
use super::event_store::{append, JsEventStore, Op};
use super::input::{self, JsResult};
use super::shared::Shared;
use super::upcast;
use crate::error::Error;
use crate::event::{EventType, Position, StreamId, Version};
use crate::replay::{
    CommandAttempts, PageRead, ReplayCursor, ReplayOptions, DEFAULT_MAX_ATTEMPTS, DEFAULT_PAGE_SIZE,
};
use crate::web::glue::{self, get, set};

/// `target[key]` as a number (0 when absent).
pub(super) fn number(target: &JsValue, key: &str) -> f64 {
    get(target, key).as_f64().unwrap_or(0.0)
}

/// The `ReplayError` for the failure `foldPage` left in `ctx`, which it clears (the
/// context of a projection lives on).
pub(super) fn take_failure(ctx: &JsValue) -> JsValue {
    let failure = get(ctx, "failure");
    set(ctx, "failure", JsValue::NULL);
    upcast::replay_error(&get(&failure, "event"), &get(&failure, "cause"))
}

/// A replay in progress: the cursor's page plan, one page read and folded per
/// [`step`](Self::step).
pub(super) struct PagedFold {
    cursor: ReplayCursor,
    /// A stream replay: the cursor advances by version, not position.
    by_version: bool,
    /// Store reads made.
    pub(super) pages: u64,
}

impl PagedFold {
    /// Plans a replay of `stream` (`None`: the whole log) within `options`' bounds.
    pub(super) fn new(stream: Option<StreamId>, options: &ReplayOptions) -> JsResult<Self> {
        let by_version = stream.is_some();
        let cursor = ReplayCursor::new(stream, options).map_err(|e| to_js(&e))?;
        Ok(PagedFold { cursor, by_version, pages: 0 })
    }

    /// Reads the next planned page and folds it into `ctx`; resolves to the events
    /// applied, or `None` when the plan is complete. A failing event (outside skip mode)
    /// is a `ReplayError`.
    pub(super) async fn step(&mut self, shared: &Shared, ctx: &JsValue) -> JsResult<Option<u64>> {
        let Some(read) = self.cursor.next_read() else { return Ok(None) };
        let page = match read {
            PageRead::Stream { stream, options } => shared.backend.read(&stream, options).await?,
            PageRead::All { from, limit } => shared.backend.read_all(from, limit).await?,
        };
        self.pages += 1;
        let before = number(ctx, "applied");
        let consumed = glue::fold_page(ctx, &page);
        if consumed < 0 {
            return Err(take_failure(ctx));
        }
        let last = number(ctx, if self.by_version { "lastVersion" } else { "lastPosition" });
        let cut = (consumed as u32) < page.length();
        self.cursor.advance(page.length() as usize, (consumed > 0).then_some(last as u64), cut);
        Ok(Some((number(ctx, "applied") - before) as u64))
    }
}

/// A function argument or option.
pub(super) fn function(value: &JsValue, field: &str) -> JsResult<Function> {
    value.dyn_ref::<Function>().cloned().ok_or_else(|| invalid(field, "must be a function"))
}

/// `options[key]` as a whole number, if present.
pub(super) fn optional_number(options: Option<&Object>, key: &str) -> JsResult<Option<u64>> {
    input::get(options, key)?
        .map(|v| input::whole_number(&v, &format!("options.{key}")))
        .transpose()
}

fn page_size(options: Option<&Object>) -> JsResult<usize> {
    match optional_number(options, "pageSize")? {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=100_000).contains(&n) => Ok(n as usize),
        Some(_) => Err(invalid("options.pageSize", "must be a whole number from 1 to 100000")),
    }
}

/// `options.reducer` (required) and `options.initial`.
pub(super) fn reducer_and_initial(options: Option<&Object>) -> JsResult<(Function, JsValue)> {
    let reducer = input::get(options, "reducer")?.unwrap_or(JsValue::UNDEFINED);
    let reducer = function(&reducer, "options.reducer")?;
    Ok((reducer, input::get(options, "initial")?.unwrap_or(JsValue::UNDEFINED)))
}

/// `options.upcast` (default `true`): the store's upcasters, or `null` for none.
fn upcasters_option(shared: &Shared, options: Option<&Object>) -> JsResult<JsValue> {
    let upcast = input::get(options, "upcast")?.unwrap_or(JsValue::UNDEFINED);
    Ok(if input::flag(upcast, "options.upcast", true)? {
        shared.replay.upcasters.clone()
    } else {
        JsValue::NULL
    })
}

/// The options of a stream replay (`replay`, `replayReport`).
const STREAM_OPTIONS: &str =
    "reducer,initial,fromVersion,toVersion,toPosition,upcast,onError,pageSize";
/// The options of a whole-log replay (`replayAll`, `replayAllReport`).
const LOG_OPTIONS: &str = "reducer,initial,fromPosition,toPosition,upcast,onError,pageSize";

/// A finished replay: its fold context and the store reads it made.
struct Replayed {
    ctx: JsValue,
    pages: u64,
    stream: bool,
}

impl Replayed {
    /// The final state; failing events skipped in skip mode are reported with
    /// `console.warn` (never silently).
    fn state(self) -> JsValue {
        let skipped: Array = get(&self.ctx, "skipped").unchecked_into();
        if skipped.length() > 0 {
            let message = if self.stream {
                "tidelog: replay skipped failing events (replayReport lists them):"
            } else {
                "tidelog: replayAll skipped failing events (replayAllReport lists them):"
            };
            web_sys::console::warn_2(&message.into(), &skipped);
        }
        get(&self.ctx, "state")
    }

    /// `{ state, appliedCount, skippedCount, skippedIds, lastPosition, lastVersion,
    /// pageCount }` (`lastVersion` is `null` for a whole-log replay).
    fn report(self) -> JsValue {
        let ctx = &self.ctx;
        let skipped: Array = get(ctx, "skipped").unchecked_into();
        let out = Object::new();
        set(&out, "state", get(ctx, "state"));
        set(&out, "appliedCount", get(ctx, "applied"));
        set(&out, "skippedCount", skipped.length().into());
        set(&out, "skippedIds", skipped.into());
        set(&out, "lastPosition", get(ctx, "lastPosition"));
        set(&out, "lastVersion", if self.stream { get(ctx, "lastVersion") } else { JsValue::NULL });
        set(&out, "pageCount", (self.pages as f64).into());
        out.into()
    }
}

/// The four replay calls in one: folds `stream` (`None`: the whole log) with the reducer
/// of `options` and resolves to the state, or to the report when `report`.
pub(super) async fn replay(
    shared: &Shared,
    stream: Option<JsValue>,
    options: JsValue,
    report: bool,
) -> JsResult<JsValue> {
    let stream = stream.map(|s| input::stream_id(&s)).transpose()?;
    let allowed = if stream.is_some() { STREAM_OPTIONS } else { LOG_OPTIONS };
    let options = input::options(&options, "options", allowed)?;
    let o = options.as_ref();
    let (reducer, initial) = reducer_and_initial(o)?;
    let skip = match input::get(o, "onError")?.map(|v| v.as_string()) {
        None => false,
        Some(Some(s)) if s == "throw" => false,
        Some(Some(s)) if s == "skip" => true,
        Some(_) => return Err(invalid("options.onError", "must be \"throw\" or \"skip\"")),
    };
    let upcasters = upcasters_option(shared, o)?;
    let replay_options = ReplayOptions {
        from_version: optional_number(o, "fromVersion")?.map(Version),
        to_version: optional_number(o, "toVersion")?.map(Version),
        from_position: optional_number(o, "fromPosition")?.map(Position),
        to_position: optional_number(o, "toPosition")?.map(Position),
        page_size: page_size(o)?,
    };
    if shared.closed() {
        return Err(to_js(&Error::Closed));
    }
    let to_position = replay_options.to_position.map_or(f64::INFINITY, Position::as_f64);
    let is_stream = stream.is_some();
    let mut fold = PagedFold::new(stream, &replay_options)?;
    let ctx =
        glue::new_fold(&reducer, &initial, &upcasters, to_position, 0.0, &JsValue::NULL, skip);
    while fold.step(shared, &ctx).await?.is_some() {}
    let replayed = Replayed { ctx, pages: fold.pages, stream: is_stream };
    Ok(if report { replayed.report() } else { replayed.state() })
}

#[wasm_bindgen(js_class = EventStore)]
impl JsEventStore {
    /// Folds `stream` with `options.reducer(state, event) -> state` from
    /// `options.initial` and resolves to the final state.
    ///
    /// Options: `fromVersion`, `toVersion`, `toPosition` (time travel: the state as of a
    /// version or a log position), `upcast` (default `true`: events reach the reducer at
    /// their latest schema), `onError` (`"throw"`, the default: a throwing reducer rejects
    /// with a `ReplayError` carrying `position`, `eventId`, `stream`, `version`, `type`
    /// and `cause`; `"skip"`: failing events are skipped, and reported with
    /// `console.warn`), `pageSize` (events per read, default 2000).
    pub fn replay(&self, stream: JsValue, options: JsValue) -> Promise {
        self.call(Op::Replay(Some(stream), options, false))
    }

    /// Folds the whole log, in position order, as `replay` folds a stream. Options:
    /// `reducer`, `initial`, `fromPosition`, `toPosition`, `upcast`, `onError`,
    /// `pageSize`.
    #[wasm_bindgen(js_name = replayAll)]
    pub fn replay_all(&self, options: JsValue) -> Promise {
        self.call(Op::Replay(None, options, false))
    }

    /// `replay`, resolving to a report: `{ state, appliedCount, skippedCount, skippedIds,
    /// lastPosition, lastVersion, pageCount }`.
    #[wasm_bindgen(js_name = replayReport)]
    pub fn replay_report(&self, stream: JsValue, options: JsValue) -> Promise {
        self.call(Op::Replay(Some(stream), options, true))
    }

    /// `replayAll`, resolving to a report as `replayReport` (`lastVersion` is `null`).
    #[wasm_bindgen(js_name = replayAllReport)]
    pub fn replay_all_report(&self, options: JsValue) -> Promise {
        self.call(Op::Replay(None, options, true))
    }

    /// Registers `upcaster(data, event) -> data`, raising events of `type` from schema
    /// `fromSchema` to `fromSchema + 1`. Steps chain (1 -> 2 -> 3 ...). Replays,
    /// projections and reads with `{ upcast: true }` apply them; stored events never
    /// change. A step registers once per store. The one place a registration is checked.
    #[wasm_bindgen(js_name = registerUpcaster)]
    pub fn register_upcaster(
        &self,
        event_type: JsValue,
        from_schema: JsValue,
        upcaster: JsValue,
    ) -> JsResult<()> {
        let event_type =
            EventType::new(input::string(&event_type, "type")?).map_err(|e| to_js(&e.into()))?;
        let from = input::whole_number(&from_schema, "fromSchema")?;
        let from = match u32::try_from(from) {
            Ok(n) if (1..u32::MAX).contains(&n) => n,
            _ => return Err(invalid("fromSchema", "must be a whole number from 1 to 2^32 - 2")),
        };
        let upcaster = function(&upcaster, "upcaster")?;
        if !glue::add_upcaster(&self.shared.replay.upcasters, event_type.as_str(), from, &upcaster)
        {
            return Err(invalid(
                "fromSchema",
                format!("an upcaster for {event_type} schema {from} is already registered"),
            ));
        }
        Ok(())
    }

    /// Handles `command` on `stream` with decide/evolve: folds the stream with
    /// `options.reducer` from `options.initial` (evolve), calls `options.decide(command,
    /// state)` (may be async) for the events to append, and appends them expecting the
    /// version the state was built at. On a `VersionConflictError` it folds only the
    /// missed events and decides again, up to `options.maxAttempts` (default 3, at most
    /// 100) attempts. Resolves to `{ appended, state, version, attempts }` (`appended` is
    /// `null` when `decide` returned no events).
    pub fn execute(&self, stream: JsValue, command: JsValue, options: JsValue) -> Promise {
        self.call(Op::Execute(stream, command, options))
    }
}

/// `execute` (see there).
pub(super) async fn execute(
    shared: &Rc<Shared>,
    stream: JsValue,
    command: JsValue,
    options: JsValue,
) -> JsResult<JsValue> {
    let stream_id = input::stream_id(&stream)?;
    let allowed = "initial,reducer,decide,maxAttempts,upcast";
    let options = input::options(&options, "options", allowed)?;
    let o = options.as_ref();
    let (reducer, initial) = reducer_and_initial(o)?;
    let decide = input::get(o, "decide")?.unwrap_or(JsValue::UNDEFINED);
    let decide = function(&decide, "options.decide")?;
    let max_attempts = optional_number(o, "maxAttempts")?;
    let mut attempts = CommandAttempts::new(max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS.into()));
    let upcasters = upcasters_option(shared, o)?;
    let ctx =
        glue::new_fold(&reducer, &initial, &upcasters, f64::INFINITY, 0.0, &JsValue::NULL, false);
    loop {
        let from = attempts.begin().map_err(|e| to_js(&e))?;
        let options = ReplayOptions { from_version: Some(from), ..Default::default() };
        let mut fold = PagedFold::new(Some(stream_id.clone()), &options)?;
        while fold.step(shared, &ctx).await?.is_some() {}
        attempts.folded(Version(number(&ctx, "lastVersion") as u64));
        let state = get(&ctx, "state");
        let decided = decide.call2(&JsValue::UNDEFINED, &command, &state)?;
        let events = JsFuture::from(Promise::resolve(&decided)).await?;
        let result = Object::new();
        set(&result, "state", state);
        set(&result, "version", attempts.version().as_f64().into());
        set(&result, "attempts", attempts.attempts().into());
        let empty = events.is_null()
            || events.is_undefined()
            || events.dyn_ref::<Array>().is_some_and(|a| a.length() == 0);
        if empty {
            set(&result, "appended", JsValue::NULL);
            return Ok(result.into());
        }
        let append_options = Object::new();
        set(&append_options, "expectedVersion", attempts.version().as_f64().into());
        match append(shared, stream.clone(), events, append_options.into()).await {
            Ok(appended) => {
                set(&result, "appended", appended);
                return Ok(result.into());
            }
            Err(e) => {
                let name = get(&e, "name").as_string();
                if !attempts.retry(name.as_deref() == Some("VersionConflictError")) {
                    return Err(e);
                }
            }
        }
    }
}
