//! The `sync` option of `EventStore.open`, parsed and checked.

use js_sys::{Array, Function, Object};
use wasm_bindgen::{JsCast, JsValue};

use crate::bindings::errors::invalid;
use crate::bindings::input::{self, JsResult};
use crate::event::StreamId;
#[cfg(feature = "sync")]
use crate::outbox::{BatchLimits, RetryPolicy};
use crate::protocol::{FeedFilter, MAX_FILTER_ITEMS};
#[cfg(feature = "sync")]
use crate::sync::{ConflictPolicy, SyncOptions};

/// How conflicts are settled, as the app configured it.
#[cfg_attr(not(feature = "sync"), allow(dead_code))]
pub(super) enum OnConflict {
    /// Re-number the local events after the remote ones (the default).
    Rebase,
    /// Keep them aside for the app (`sync.conflicts()`).
    Quarantine,
    /// Ask the app's function (see `conflict.rs` for its contract).
    Resolve(Function),
}

/// The parsed `sync` option of `EventStore.open` (the client's wasm of the browser package
/// only checks it: the sync wasm reads it).
#[cfg_attr(not(feature = "sync"), allow(dead_code))]
pub(in crate::bindings) struct SyncConfig {
    /// Start paused (e.g. the app remembers the user's "offline" switch).
    pub(super) paused: bool,
    pub(super) url: String,
    pub(super) token: Option<String>,
    /// The app's token source (`auth: async () => token`): asked before the first
    /// request and once again on a 401.
    pub(super) auth: Option<Function>,
    pub(super) on_conflict: OnConflict,
    pub(super) poll_ms: u32,
    pub(super) timeout_ms: u32,
    pub(super) stall_ms: u32,
    pub(super) batch_size: usize,
    /// What the device pulls (`None`: the whole feed).
    pub(super) pull: Option<FeedFilter>,
}

#[cfg(feature = "sync")]
impl SyncConfig {
    /// The engine's options for this configuration.
    pub(super) fn engine_options(&self) -> SyncOptions {
        let policy = match self.on_conflict {
            OnConflict::Rebase => ConflictPolicy::Rebase,
            OnConflict::Quarantine => ConflictPolicy::Quarantine,
            OnConflict::Resolve(_) => ConflictPolicy::Resolve,
        };
        SyncOptions {
            policy,
            limits: BatchLimits { max_events: self.batch_size, ..BatchLimits::default() },
            retry: RetryPolicy::default(),
            // A send's lease outlives its request.
            lease_ms: u64::from(self.timeout_ms) + 5_000,
            pull: self.pull.clone(),
            ..SyncOptions::default()
        }
    }
}

/// Parses `pull: { streams, prefixes }` (absent: the whole feed).
fn parse_pull(options: Option<&Object>) -> JsResult<Option<FeedFilter>> {
    let value = input::get(options, "pull")?.unwrap_or(JsValue::UNDEFINED);
    let Some(pull) = input::options(&value, "options.sync.pull", "streams,prefixes")? else {
        return Ok(None);
    };
    let list = |key: &str| -> JsResult<Vec<StreamId>> {
        let field = format!("options.sync.pull.{key}");
        let Some(value) = input::get(Some(&pull), key)? else { return Ok(Vec::new()) };
        if !Array::is_array(&value) {
            return Err(invalid(field, "must be an array of strings"));
        }
        let mut ids: Vec<StreamId> = Vec::new();
        for (i, item) in Array::from(&value).iter().enumerate() {
            let field = format!("{field}[{i}]");
            let id = StreamId::new(input::string(&item, &field)?)
                .map_err(|e| invalid(field, e.to_string()))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    };
    let filter = FeedFilter { streams: list("streams")?, prefixes: list("prefixes")? };
    if filter.streams.len() + filter.prefixes.len() > MAX_FILTER_ITEMS {
        return Err(invalid(
            "options.sync.pull",
            format!("holds at most {MAX_FILTER_ITEMS} streams and prefixes together"),
        ));
    }
    Ok(Some(filter))
}

/// Parses `{ url, token, auth, onConflict, pollMs, timeoutMs, stallMs, batchSize, paused, pull }`.
pub(in crate::bindings) fn parse_config(value: &JsValue) -> JsResult<Option<SyncConfig>> {
    let Some(options) = input::options(
        value,
        "options.sync",
        "url,token,auth,onConflict,pollMs,timeoutMs,stallMs,batchSize,paused,pull",
    )?
    else {
        return Ok(None);
    };
    let options = Some(&options);
    let url = match input::get(options, "url")? {
        Some(url) => input::string(&url, "options.sync.url")?,
        None => return Err(invalid("options.sync.url", "is required: the sync space's base URL")),
    };
    crate::protocol::check_base_url(&url).map_err(|why| invalid("options.sync.url", why))?;
    let token = input::get(options, "token")?
        .map(|t| input::string(&t, "options.sync.token"))
        .transpose()?;
    let auth = match input::get(options, "auth")? {
        None => None,
        Some(f) => match f.dyn_into::<Function>() {
            Ok(f) => Some(f),
            Err(_) => {
                return Err(invalid("options.sync.auth", "must be a function returning a token"))
            }
        },
    };
    let on_conflict = match input::get(options, "onConflict")? {
        None => OnConflict::Rebase,
        Some(v) if v.as_string().as_deref() == Some("rebase") => OnConflict::Rebase,
        Some(v) if v.as_string().as_deref() == Some("quarantine") => OnConflict::Quarantine,
        Some(v) if v.is_function() => OnConflict::Resolve(v.unchecked_into()),
        Some(_) => {
            return Err(invalid(
                "options.sync.onConflict",
                "must be \"rebase\", \"quarantine\" or a function",
            ))
        }
    };
    let number = |key: &str, default: u32, min: u32, max: u32| -> JsResult<u32> {
        match input::get(options, key)? {
            None => Ok(default),
            Some(v) => {
                let field = format!("options.sync.{key}");
                let n = input::whole_number(&v, &field)?;
                if n < u64::from(min) || n > u64::from(max) {
                    return Err(invalid(field, format!("must be from {min} to {max}")));
                }
                Ok(n as u32)
            }
        }
    };
    let paused = match input::get(options, "paused")? {
        None => false,
        Some(v) => {
            v.as_bool().ok_or_else(|| invalid("options.sync.paused", "must be true or false"))?
        }
    };
    Ok(Some(SyncConfig {
        paused,
        url,
        token,
        auth,
        on_conflict,
        poll_ms: number("pollMs", 30_000, 100, 86_400_000)?,
        timeout_ms: number("timeoutMs", 15_000, 100, 600_000)?,
        stall_ms: number("stallMs", 60_000, 1_000, 86_400_000)?,
        batch_size: number("batchSize", 100, 1, 1_000)? as usize,
        pull: parse_pull(options)?,
    }))
}
