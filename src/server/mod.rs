//! The sync server core (feature `server`): [`handle`] turns a [`Request`] into a
//! [`Response`] over a [`ServerStore`], with no I/O of its own. A worker adapter converts
//! its runtime's request into a [`Request`], awaits [`handle`], and converts back; it
//! adds authentication (401/403), CORS, and `Retry-After` on its own 429/503 answers
//! ([`Response::error`] and [`Response::with_retry_after`] build those bodies the same
//! way the handler does).
//!
//! The protocol is specified in `docs/protocol.md`; in short:
//! - `POST /streams/{stream}` pushes a batch; `If-Match: "<v>"`, `If-Match: *` or
//!   `If-None-Match: *` is required (428 without). A batch whose ids are all already
//!   stored in this stream is an idempotent retry: `200` with the stored versions and
//!   positions, whatever its precondition says. A batch mixing stored and new ids is
//!   `409 partial_retry`; an id stored in another stream, or stored with other content,
//!   is `409 id_conflict`. Otherwise the precondition is evaluated (412 on failure) and
//!   the batch stored (`201`).
//! - `GET`/`HEAD /streams/{stream}` and `/events` read with `?after=&limit=`, `ETag`, and
//!   `If-None-Match` giving `304`.
//!
//! Every error body is JSON `{error, message}` (the 412 of a push adds `stream`,
//! `expectedVersion`, `actualVersion`).

#[cfg(test)]
mod fuzz;
mod kv;
mod sql;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

pub use kv::{Kv, KvServerStore, MemoryKv, DEFAULT_MAX_READ_BYTES, MAX_KEYS_PER_CALL};
pub use sql::{SqlServerStore, SqlSpace};
pub use store::{AppendOutcome, MemoryServerStore, ServerEvent, ServerStore};

use crate::error::Error;
use crate::event::{Position, StreamId, Version, MAX_SAFE_INTEGER};
use crate::protocol::{
    parse_route, ConditionFailedBody, ConflictBody, EntityTag, ErrorBody, ExpectedOnWire,
    FeedFilter, FeedReadResponse, Precondition, PushAck, PushCondition, PushEvent, PushRequest,
    PushResponse, ReadQuery, Route, StreamReadResponse, WireEvent, ALLOW, CACHE_CONTROL,
    CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, JSON_CONTENT_TYPE, MAX_BODY_BYTES,
    MAX_EVENT_BYTES, RETRY_AFTER,
};

/// Limits and mount point of the handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The prefix the handler is mounted at (e.g. `/v1/my-space`); request paths must
    /// start with it. Empty (the default) when the adapter strips it already.
    pub base_path: String,
    /// Largest request body accepted, in bytes (413 `body_too_large` above). 1 MiB.
    pub max_body_bytes: usize,
    /// Most events in one push (413 `batch_too_large` above: the client splits). 100.
    pub max_batch_events: usize,
    /// Largest stored event: the JSON of the event as served by reads (with its stream,
    /// version and position), in bytes (422 `event_too_large` above). 100 KiB, which
    /// keeps each stored value under the 128 KiB Durable Object limit.
    pub max_event_bytes: usize,
    /// Most events one read returns; larger or absent `limit`s are clamped to it. 1000.
    pub max_read_limit: usize,
    /// Most feed events one filtered read searches before it answers (with what it
    /// found, and `through` where it stopped). 10,000: bounds a filtered poll's cost.
    pub max_filter_scan: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_path: String::new(),
            max_body_bytes: MAX_BODY_BYTES,
            max_batch_events: 100,
            max_event_bytes: MAX_EVENT_BYTES,
            max_read_limit: 1000,
            max_filter_scan: 10_000,
        }
    }
}

/// An HTTP request as the handler sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `"GET"` (case-sensitive, as in HTTP).
    pub method: String,
    /// The request target's path and optional query, still percent-encoded, e.g.
    /// `/v1/s/streams/a%2Fb?after=3`.
    pub path: String,
    /// Header fields (names case-insensitive; repeated fields are combined with `, `).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Request { method: method.into(), path: path.into(), ..Request::default() }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The value of a header (case-insensitive name); repeated fields joined by `, `
    /// as RFC 9110 section 5.3 allows for list-valued fields.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// An HTTP response from the handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header fields.
    pub headers: Vec<(String, String)>,
    /// The body bytes (empty for 204, 304 and HEAD).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with no headers and no body.
    pub fn new(status: u16) -> Self {
        Response { status, ..Response::default() }
    }

    /// A JSON response: `body` serialized, `Content-Type: application/json`.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        // Serializing the protocol's own types cannot fail (string keys, no maps of
        // non-string keys); an empty body is the harmless fallback.
        Response::new(status)
            .with_header(CONTENT_TYPE, JSON_CONTENT_TYPE)
            .with_body_bytes(serde_json::to_vec(body).unwrap_or_default())
    }

    /// An error response with the JSON body `{error: code, message}`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Response::json(status, &ErrorBody { error: code.to_string(), message: message.into() })
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `Retry-After: <seconds>` (for the worker's 429 and 503 answers).
    pub fn with_retry_after(self, seconds: u64) -> Self {
        self.with_header(RETRY_AFTER, seconds.to_string())
    }

    fn with_body_bytes(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

const STREAM_ALLOW: &str = "GET, HEAD, POST, OPTIONS";
const FEED_ALLOW: &str = "GET, HEAD, OPTIONS";
/// How many times a push is re-decided when a concurrent write wins the append.
const APPEND_ATTEMPTS: usize = 3;

/// Answers one request of the sync protocol for the space held by `store`.
pub async fn handle<S: ServerStore>(store: &S, config: &Config, request: Request) -> Response {
    let (path, query) = match request.path.split_once('?') {
        Some((path, query)) => (path, query),
        None => (request.path.as_str(), ""),
    };
    let base = config.base_path.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(base).filter(|r| r.starts_with('/')) else {
        return not_found();
    };
    let route = match parse_route(rest) {
        Ok(Some(route)) => route,
        Ok(None) => return not_found(),
        Err(e) => return invalid(400, "bad_stream", &e),
    };
    let method = request.method.as_str();
    match (&route, method) {
        (Route::Stream(stream), "GET" | "HEAD") => {
            read_stream(store, config, &request, stream, query, method == "HEAD").await
        }
        (Route::Stream(stream), "POST") => push(store, config, &request, stream).await,
        (Route::Feed, "GET" | "HEAD") => {
            read_feed(store, config, &request, query, method == "HEAD").await
        }
        (Route::Stream(_), "OPTIONS") => Response::new(204).with_header(ALLOW, STREAM_ALLOW),
        (Route::Feed, "OPTIONS") => Response::new(204).with_header(ALLOW, FEED_ALLOW),
        (Route::Stream(_), _) => method_not_allowed(method, STREAM_ALLOW),
        (Route::Feed, _) => method_not_allowed(method, FEED_ALLOW),
    }
}

fn not_found() -> Response {
    Response::error(
        404,
        "not_found",
        "no such resource; the protocol has {base}/streams/{stream} and {base}/events",
    )
}

fn method_not_allowed(method: &str, allow: &str) -> Response {
    Response::error(
        405,
        "method_not_allowed",
        format!("{method} is not allowed here; allowed: {allow}"),
    )
    .with_header(ALLOW, allow)
}

fn invalid(status: u16, code: &str, error: &Error) -> Response {
    let message = match error {
        Error::InvalidInput { .. } => error.to_string(),
        other => format!("{other}"),
    };
    Response::error(status, code, message)
}

fn storage_failure(error: &Error) -> Response {
    match error {
        Error::QuotaExceeded { .. } => Response::error(507, "quota_exceeded", error.to_string()),
        _ => Response::error(500, "storage_error", error.to_string()),
    }
}

/// The `If-Match` and `If-None-Match` of a request, parsed (absent ones are `None`).
struct Preconditions {
    if_match: Option<Precondition>,
    if_none_match: Option<Precondition>,
}

impl Preconditions {
    fn parse(request: &Request) -> Result<Self, Response> {
        let parse = |name: &'static str| match request.header(name) {
            None => Ok(None),
            Some(value) => Precondition::parse_field(name, &value)
                .map(Some)
                .map_err(|e| invalid(400, "bad_precondition", &e)),
        };
        Ok(Preconditions { if_match: parse(IF_MATCH)?, if_none_match: parse(IF_NONE_MATCH)? })
    }

    fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// RFC 9110 section 13.2.2 steps 1 and 3 (no dates in this protocol):
    /// `Err(412)` when `If-Match` fails, `Ok(false)` when `If-None-Match` fails.
    fn evaluate(&self, current: u64) -> Result<bool, ()> {
        let tag = EntityTag::number(current);
        let exists = current > 0;
        if let Some(p) = &self.if_match {
            if !p.if_match(&tag, exists) {
                return Err(());
            }
        }
        Ok(self.if_none_match.as_ref().is_none_or(|p| p.if_none_match(&tag, exists)))
    }

    /// What a push with these preconditions expected, for the 412 body.
    fn expected(&self) -> ExpectedOnWire {
        match (&self.if_match, &self.if_none_match) {
            (None, Some(Precondition::Any)) => ExpectedOnWire::Version(Version(0)),
            (Some(Precondition::Any), None) => ExpectedOnWire::Other("exists".into()),
            (Some(p), None) if p.single_number().is_some() => {
                ExpectedOnWire::Version(Version(p.single_number().unwrap_or_default()))
            }
            (m, n) => {
                let mut parts = Vec::new();
                if let Some(m) = m {
                    parts.push(format!("If-Match: {m}"));
                }
                if let Some(n) = n {
                    parts.push(format!("If-None-Match: {n}"));
                }
                ExpectedOnWire::Other(parts.join("; "))
            }
        }
    }
}

fn clamp_limit(config: &Config, query: &ReadQuery) -> usize {
    let max = config.max_read_limit.max(1);
    query.limit.map_or(max, |l| usize::try_from(l).unwrap_or(usize::MAX).min(max))
}

/// The headers every successful read and 304 carry.
fn read_headers(response: Response, current: u64) -> Response {
    response
        .with_header(ETAG, crate::protocol::etag(current))
        .with_header(CACHE_CONTROL, "no-cache")
}

/// Answers a read's conditional request; `None` when the read should go ahead.
fn conditional_read(pre: &Preconditions, current: u64) -> Option<Response> {
    match pre.evaluate(current) {
        Err(()) => Some(
            Response::error(
                412,
                "precondition_failed",
                format!("If-Match does not match the current ETag \"{current}\""),
            )
            .with_header(ETAG, crate::protocol::etag(current)),
        ),
        Ok(false) => Some(read_headers(Response::new(304), current)),
        Ok(true) => None,
    }
}

fn strip_body(mut response: Response, head: bool) -> Response {
    if head {
        response.body.clear();
    }
    response
}

/// What every read does first: parse its query and its preconditions. `Err` is the `400`
/// to send instead of reading.
fn read_prologue(request: &Request, query: &str) -> Result<(ReadQuery, Preconditions), Response> {
    let query = ReadQuery::parse(query).map_err(|e| invalid(400, "bad_query", &e))?;
    Ok((query, Preconditions::parse(request)?))
}

/// The answer preconditions give against the current version or head (`304`, `412`, or
/// a storage failure), if any; `None`: read.
fn precondition_answer(
    pre: &Preconditions,
    current: crate::error::Result<u64>,
) -> Option<Response> {
    match current {
        Ok(current) => conditional_read(pre, current),
        Err(e) => Some(storage_failure(&e)),
    }
}

async fn read_stream<S: ServerStore>(
    store: &S,
    config: &Config,
    request: &Request,
    stream: &StreamId,
    query: &str,
    head: bool,
) -> Response {
    let (query, pre) = match read_prologue(request, query) {
        Ok(read) => read,
        Err(response) => return response,
    };
    if !pre.is_empty() {
        let current = store.stream_version(stream).await.map(|v| v.0);
        if let Some(response) = precondition_answer(&pre, current) {
            return response;
        }
    }
    match store.read_stream(stream, Version(query.after), clamp_limit(config, &query)).await {
        Ok((version, events)) => {
            let body = StreamReadResponse { version, events };
            strip_body(read_headers(Response::json(200, &body), version.0), head)
        }
        Err(e) => storage_failure(&e),
    }
}

async fn read_feed<S: ServerStore>(
    store: &S,
    config: &Config,
    request: &Request,
    query: &str,
    head: bool,
) -> Response {
    let (read, pre) = match read_prologue(request, query) {
        Ok(read) => read,
        Err(response) => return response,
    };
    match FeedFilter::parse(query) {
        Ok(None) => {}
        Ok(Some(filter)) => {
            return read_filtered_feed(store, config, &read, &pre, &filter, head).await
        }
        Err(e) => return invalid(400, "bad_query", &e),
    }
    if !pre.is_empty() {
        let current = store.read_feed(Position(MAX_SAFE_INTEGER), 0).await.map(|(head, _)| head.0);
        if let Some(response) = precondition_answer(&pre, current) {
            return response;
        }
    }
    match store.read_feed(Position(read.after), clamp_limit(config, &read)).await {
        Ok((position, events)) => {
            let body = FeedReadResponse { head: position, events, through: None };
            strip_body(read_headers(Response::json(200, &body), position.0), head)
        }
        Err(e) => storage_failure(&e),
    }
}

/// A filtered feed read (partial sync, docs/protocol.md section 5): searches the feed
/// after `after` for events in the filter's scope, up to `limit` of them or
/// [`Config::max_filter_scan`] events searched. `through` is where the search stopped;
/// the `ETag` is `through`, or `after` when nothing in scope follows `after` at all, so
/// `If-None-Match: "<after>"` gives `304` exactly when the scope did not change. Works
/// over any [`ServerStore`]: it needs only feed reads.
async fn read_filtered_feed<S: ServerStore>(
    store: &S,
    config: &Config,
    read: &ReadQuery,
    pre: &Preconditions,
    filter: &FeedFilter,
    head: bool,
) -> Response {
    let limit = clamp_limit(config, read);
    let page = config.max_read_limit.max(1);
    let mut events = Vec::new();
    let mut through = Position(read.after);
    let mut searched = 0;
    let feed_head = loop {
        let (feed_head, page) = match store.read_feed(through, page).await {
            Ok(read) => read,
            Err(e) => return storage_failure(&e),
        };
        if page.is_empty() {
            break feed_head;
        }
        let mut full = false;
        for event in page {
            searched += 1;
            through = event.position;
            if filter.matches(&event.stream) {
                events.push(event);
            }
            full = events.len() >= limit || searched >= config.max_filter_scan;
            if full {
                break;
            }
        }
        if full || through >= feed_head {
            break feed_head;
        }
    };
    let unchanged = events.is_empty() && through >= feed_head;
    let tag = if unchanged { read.after } else { through.0 };
    if let Some(response) = conditional_read(pre, tag) {
        return response;
    }
    let body = FeedReadResponse { head: feed_head, events, through: Some(through) };
    strip_body(read_headers(Response::json(200, &body), tag), head)
}

/// Parses and validates a push body; `Err` is the 400/413/422 answer.
fn parse_push(
    config: &Config,
    stream: &StreamId,
    body: &[u8],
) -> Result<(Vec<PushEvent<Value>>, Vec<PushCondition>), Response> {
    let request: PushRequest<Value> = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            Response::error(
                422,
                "invalid_event",
                format!("the body does not have the push shape: {e}"),
            )
        } else {
            Response::error(400, "bad_json", format!("the body is not valid JSON: {e}"))
        }
    })?;
    let (events, conditions) = (request.events, request.conditions);
    if events.is_empty() {
        return Err(Response::error(422, "empty_batch", "events must hold at least one event"));
    }
    if let Some((i, c)) = conditions.iter().enumerate().find(|(_, c)| c.event >= events.len()) {
        return Err(Response::error(
            422,
            "invalid_event",
            format!("conditions[{i}].event is {}; the batch has {} events", c.event, events.len()),
        ));
    }
    if events.len() > config.max_batch_events {
        return Err(Response::error(
            413,
            "batch_too_large",
            format!(
                "{} events in one push; the limit is {}: split the batch",
                events.len(),
                config.max_batch_events
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (i, event) in events.iter().enumerate() {
        if !seen.insert(&event.id) {
            return Err(Response::error(
                422,
                "duplicate_id",
                format!("events[{i}].id {:?} appears twice in the batch", event.id.as_str()),
            ));
        }
        if event.recorded_at > MAX_SAFE_INTEGER {
            return Err(Response::error(
                422,
                "invalid_event",
                format!("events[{i}].recordedAt exceeds 2^53 - 1 (Number.MAX_SAFE_INTEGER)"),
            ));
        }
        if let Err(e) = crate::event::check_tags(&format!("events[{i}].tags"), &event.tags) {
            return Err(Response::error(422, "invalid_event", e.to_string()));
        }
        // Measure the event as it will be stored and served, with the widest numbers.
        let stored = WireEvent {
            id: event.id.clone(),
            stream: stream.clone(),
            version: Version(MAX_SAFE_INTEGER),
            position: Position(MAX_SAFE_INTEGER),
            event_type: event.event_type.clone(),
            tags: event.tags.clone(),
            data: event.data.clone(),
            meta: event.meta.clone(),
            recorded_at: event.recorded_at,
            schema: event.schema,
        };
        let size = serde_json::to_vec(&stored).map_or(usize::MAX, |b| b.len());
        if size > config.max_event_bytes {
            return Err(Response::error(
                422,
                "event_too_large",
                format!(
                    "events[{i}] is {size} bytes as stored; the limit is {} bytes",
                    config.max_event_bytes
                ),
            ));
        }
    }
    Ok((events, conditions))
}

fn same_content(stored: &ServerEvent, pushed: &PushEvent<Value>) -> bool {
    stored.event_type == pushed.event_type
        && stored.tags == pushed.tags
        && stored.data == pushed.data
        && stored.meta == pushed.meta
        && stored.recorded_at == pushed.recorded_at
        && stored.schema == pushed.schema
}

fn push_answer(status: u16, stored: &[ServerEvent]) -> Response {
    let version = stored.iter().map(|e| e.version).max().unwrap_or_default();
    let body = PushResponse {
        version,
        events: stored
            .iter()
            .map(|e| PushAck { id: e.id.clone(), version: e.version, position: e.position })
            .collect(),
    };
    Response::json(status, &body).with_header(ETAG, crate::protocol::etag(version.0))
}

/// What the stored copies of a batch's ids say about it.
enum Known {
    /// No id is stored: a new batch.
    New,
    /// Every id is stored, in this stream, with the same content: a retry.
    Retry(Vec<ServerEvent>),
    /// Anything else: the 409 answer.
    Conflict(Response),
}

fn classify(
    stream: &StreamId,
    events: &[PushEvent<Value>],
    stored: Vec<Option<ServerEvent>>,
) -> Known {
    let mut found = Vec::with_capacity(events.len());
    let mut first_new = None;
    for (i, (pushed, stored)) in events.iter().zip(stored).enumerate() {
        match stored {
            None => {
                first_new.get_or_insert(i);
            }
            Some(stored) if stored.stream != *stream => {
                return Known::Conflict(Response::error(
                    409,
                    "id_conflict",
                    format!(
                        "events[{i}].id {:?} is already stored in another stream ({:?})",
                        pushed.id.as_str(),
                        stored.stream.as_str()
                    ),
                ))
            }
            Some(stored) if !same_content(&stored, pushed) => {
                return Known::Conflict(Response::error(
                    409,
                    "id_conflict",
                    format!(
                        "events[{i}].id {:?} is already stored (version {}) with different content; \
                         event ids must be unique",
                        pushed.id.as_str(),
                        stored.version
                    ),
                ))
            }
            Some(stored) => found.push((i, stored)),
        }
    }
    match (first_new, found.first()) {
        (None, _) => Known::Retry(found.into_iter().map(|(_, e)| e).collect()),
        (Some(_), None) => Known::New,
        (Some(new), Some((old, stored))) => Known::Conflict(Response::error(
            409,
            "partial_retry",
            format!(
                "the batch mixes stored and new events: events[{old}] ({:?}) is already stored at version {}, \
                 events[{new}] is not; push the new events as their own batch",
                stored.id.as_str(),
                stored.version
            ),
        )),
    }
}

/// The `412 condition_failed` answer for the first condition an event of the feed
/// violates (matching its query, after its position, not among its known ids), if any.
/// Reads the feed after the lowest `after` in pages.
async fn failed_condition<S: ServerStore>(
    store: &S,
    config: &Config,
    stream: &StreamId,
    conditions: &[PushCondition],
) -> crate::error::Result<Option<Response>> {
    let Some(lowest) = conditions.iter().map(|c| c.after).min() else { return Ok(None) };
    let mut after = lowest;
    loop {
        let (head, page) = store.read_feed(after, config.max_read_limit).await?;
        for event in &page {
            for (i, c) in conditions.iter().enumerate() {
                if event.position > c.after
                    && c.fail_if_events_match.matches_event(event)
                    && !c.known.contains(&event.id)
                {
                    let body = ConditionFailedBody {
                        error: "condition_failed".into(),
                        message: format!(
                            "the append at events[{}] was decided before the event at position {} (id {}), which matches its condition; pull the feed and decide again",
                            c.event, event.position, event.id
                        ),
                        stream: stream.clone(),
                        condition: i,
                        event: event.clone(),
                    };
                    return Ok(Some(Response::json(412, &body)));
                }
            }
        }
        match page.last() {
            Some(last) if last.position < head => after = last.position,
            _ => return Ok(None),
        }
    }
}

async fn push<S: ServerStore>(
    store: &S,
    config: &Config,
    request: &Request,
    stream: &StreamId,
) -> Response {
    if request.body.len() > config.max_body_bytes {
        return Response::error(
            413,
            "body_too_large",
            format!(
                "the body is {} bytes; the limit is {} bytes: split the batch",
                request.body.len(),
                config.max_body_bytes
            ),
        );
    }
    let pre = match Preconditions::parse(request) {
        Ok(p) => p,
        Err(response) => return response,
    };
    if pre.is_empty() {
        return Response::error(
            428,
            "precondition_required",
            "a push needs If-Match: \"<version>\" (the server version it was built on), If-Match: * \
             or If-None-Match: * (a new stream)",
        );
    }
    let (events, conditions) = match parse_push(config, stream, &request.body) {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    for _ in 0..APPEND_ATTEMPTS {
        let stored = match store.events_by_id(&ids).await {
            Ok(stored) => stored,
            Err(e) => return storage_failure(&e),
        };
        match classify(stream, &events, stored) {
            Known::Retry(stored) => return push_answer(200, &stored),
            Known::Conflict(response) => return response,
            Known::New => {}
        }
        let current = match store.stream_version(stream).await {
            Ok(v) => v,
            Err(e) => return storage_failure(&e),
        };
        if pre.evaluate(current.0) != Ok(true) {
            let body = ConflictBody {
                error: "version_conflict".into(),
                message: format!(
                    "the stream {:?} is at version {current}; pull its events after your base version, \
                     then push again",
                    stream.as_str()
                ),
                stream: stream.clone(),
                expected_version: pre.expected(),
                actual_version: current,
            };
            return Response::json(412, &body).with_header(ETAG, crate::protocol::etag(current.0));
        }
        // The conditions are read in the same serial turn as the append (one Durable
        // Object = one space: no other request runs between them).
        match failed_condition(store, config, stream, &conditions).await {
            Ok(None) => {}
            Ok(Some(response)) => return response,
            Err(e) => return storage_failure(&e),
        }
        match store.append(stream, current, &events).await {
            Ok(AppendOutcome::Appended(stored)) => return push_answer(201, &stored),
            // A concurrent write won between our reads and the append: decide again.
            Ok(AppendOutcome::VersionMoved(_) | AppendOutcome::IdTaken(_)) => continue,
            Err(e) => return storage_failure(&e),
        }
    }
    Response::error(503, "busy", "the stream kept changing during the push; retry")
        .with_retry_after(1)
}
