//! [`FetchTransport`]: the sync protocol over the host's `fetch` (windows, workers,
//! service workers), with a timeout through `AbortController`, the bearer token in the
//! `Authorization` header only (never in a URL), and JSON parsed by the host
//! (`JSON.parse`), so no JSON library is compiled into the browser build.

use std::cell::RefCell;

use js_sys::{Array, Object, Promise, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::event::{Position, StreamId, Version};
use crate::outbox::Failure;
use crate::protocol::{
    encode_stream_segment, FeedFilter, FeedReadResponse, PushCondition, PushEvent,
    StreamReadResponse,
};
use crate::sync::{
    classify_push, condition_failed, parse_retry_after, pause_kind, PushOutcome, ReadOutcome,
    SyncErrorKind, Transport,
};
use crate::web::convert::{
    events_from_js, number, push_condition_to_js, push_response_from_js, push_to_js,
};
use crate::web::glue::{get, set};
use crate::web::host;

#[wasm_bindgen]
extern "C" {
    /// The host's global `fetch(url, init)` (throws where the host has none).
    #[wasm_bindgen(catch, js_name = fetch)]
    fn host_fetch(url: &str, init: &JsValue) -> Result<Promise, JsValue>;

    /// An `AbortController` (the timeout's way to abort a request).
    type AbortController;
    #[wasm_bindgen(catch, constructor)]
    fn new() -> Result<AbortController, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(method)]
    fn abort(this: &AbortController);

    /// What `fetch` resolves to.
    type FetchResponse;
    #[wasm_bindgen(method, getter)]
    fn status(this: &FetchResponse) -> u16;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &FetchResponse) -> FetchHeaders;
    #[wasm_bindgen(method, catch)]
    fn text(this: &FetchResponse) -> Result<Promise, JsValue>;

    /// A response's headers.
    type FetchHeaders;
    #[wasm_bindgen(method, catch)]
    fn get(this: &FetchHeaders, name: &str) -> Result<Option<String>, JsValue>;
}

/// `fetch` with the sync protocol's headers, against one space's base URL.
#[derive(Debug)]
pub struct FetchTransport {
    base: String,
    token: RefCell<Option<String>>,
    timeout_ms: u32,
}

struct HttpAnswer {
    status: u16,
    retry_after_ms: Option<u64>,
    /// The parsed JSON body (`undefined` when there is none or it is not JSON).
    body: JsValue,
}

fn failure(status: Option<u16>, message: impl Into<String>) -> Failure {
    Failure { status, message: message.into() }
}

fn error_message(answer: &HttpAnswer) -> String {
    get(&answer.body, "message").as_string().unwrap_or_else(|| format!("HTTP {}", answer.status))
}

/// The server's error code (the `error` of its JSON body), if it sent one.
fn error_code(answer: &HttpAnswer) -> Option<String> {
    get(&answer.body, "error").as_string()
}

impl FetchTransport {
    /// What went wrong, in words an app can show: the server's message, and for the
    /// answers that pause sync (`pause_kind`) what to fix, naming the URL.
    fn answer_message(&self, path: &str, answer: &HttpAnswer) -> String {
        let code = error_code(answer);
        match pause_kind(answer.status, code.as_deref()) {
            Some(SyncErrorKind::NotFound) => format!(
                "no tidelog sync server answers at {}{} (HTTP {}): check sync.url, the space's base URL (e.g. https://host/v1/my-space)",
                self.base,
                path.split('?').next().unwrap_or_default(),
                answer.status
            ),
            Some(SyncErrorKind::ForbiddenOrigin) => format!(
                "the sync server at {} does not allow this page's origin (403 origin_not_allowed): add the origin to the server's allowed origins (TIDELOG_CORS_ORIGINS)",
                self.base
            ),
            _ => error_message(answer),
        }
    }
}

impl FetchTransport {
    /// A transport for the space at `base` (e.g. `https://sync.example/v1/shop`).
    pub fn new(base: impl Into<String>, token: Option<String>, timeout_ms: u32) -> Self {
        FetchTransport {
            base: base.into().trim_end_matches('/').to_string(),
            token: RefCell::new(token),
            timeout_ms,
        }
    }

    /// Replaces the bearer token (`None`: send none).
    pub fn set_token(&self, token: Option<String>) {
        *self.token.borrow_mut() = token;
    }

    /// One request; `Err` is a network error or a timeout.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> Result<HttpAnswer, Failure> {
        let header_object: JsValue = Object::new().into();
        for (name, value) in headers {
            set(&header_object, name, value.as_str().into());
        }
        if let Some(token) = self.token.borrow().as_deref() {
            set(&header_object, "Authorization", format!("Bearer {token}").into());
        }
        let init: JsValue = Object::new().into();
        set(&init, "method", method.into());
        set(&init, "cache", "no-store".into());
        if let Some(body) = body {
            set(&header_object, "Content-Type", "application/json".into());
            set(&init, "body", body.into());
        }
        set(&init, "headers", header_object);
        // Timeout: abort the request after timeout_ms (hosts without AbortController wait
        // for the network's own timeout). Dropping the timer clears it.
        let _timer = AbortController::new().ok().map(|controller| {
            set(&init, "signal", controller.signal());
            host::Timeout::new(u64::from(self.timeout_ms), move || controller.abort())
        });
        let url = format!("{}{}", self.base, path);
        let promise = host_fetch(&url, &init)
            .map_err(|e| failure(None, format!("fetch failed: {}", describe(&e))))?;
        let response: FetchResponse = JsFuture::from(promise)
            .await
            .map_err(|e| {
                if get(&e, "name").as_string().as_deref() == Some("AbortError") {
                    failure(None, format!("timed out after {} ms", self.timeout_ms))
                } else {
                    failure(None, format!("network error: {}", describe(&e)))
                }
            })?
            .unchecked_into();
        let status = response.status();
        let retry_after = response.headers().get("Retry-After").ok().flatten();
        let text_promise = response.text().map_err(|e| failure(Some(status), describe(&e)))?;
        let text = JsFuture::from(text_promise)
            .await
            .map_err(|e| failure(Some(status), format!("reading the answer: {}", describe(&e))))?;
        let body = text
            .as_string()
            .filter(|t| !t.is_empty())
            .and_then(|t| JSON::parse(&t).ok())
            .unwrap_or(JsValue::UNDEFINED);
        Ok(HttpAnswer { status, retry_after_ms: parse_retry_after(retry_after.as_deref()), body })
    }

    /// A GET; `Fresh` holds the parsed JSON body (see [`parsed`]). Not generic, so
    /// compiled once for both reads.
    async fn read(&self, path: String, if_none_match: Option<String>) -> ReadOutcome<JsValue> {
        let headers: Vec<(&str, String)> =
            if_none_match.into_iter().map(|tag| ("If-None-Match", tag)).collect();
        let answer = match self.send("GET", &path, &headers, None).await {
            Ok(answer) => answer,
            Err(failure) => return ReadOutcome::Retry { failure, retry_after_ms: None },
        };
        match answer.status {
            200 => ReadOutcome::Fresh(answer.body),
            304 => ReadOutcome::NotModified,
            status => {
                let failure = failure(Some(status), self.answer_message(&path, &answer));
                match pause_kind(status, error_code(&answer).as_deref()) {
                    Some(kind) => ReadOutcome::Paused(kind, failure),
                    None => ReadOutcome::Retry { failure, retry_after_ms: answer.retry_after_ms },
                }
            }
        }
    }
}

/// A read's JSON body through `parse`; a body that does not parse is a retryable failure.
fn parsed<T>(
    read: ReadOutcome<JsValue>,
    parse: impl FnOnce(&JsValue) -> Result<T, String>,
) -> ReadOutcome<T> {
    match read {
        ReadOutcome::Fresh(body) => match parse(&body) {
            Ok(body) => ReadOutcome::Fresh(body),
            Err(message) => {
                ReadOutcome::Retry { failure: failure(Some(200), message), retry_after_ms: None }
            }
        },
        ReadOutcome::NotModified => ReadOutcome::NotModified,
        ReadOutcome::Paused(kind, failure) => ReadOutcome::Paused(kind, failure),
        ReadOutcome::Retry { failure, retry_after_ms } => {
            ReadOutcome::Retry { failure, retry_after_ms }
        }
    }
}

fn describe(error: &JsValue) -> String {
    get(error, "message")
        .as_string()
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

impl Transport for FetchTransport {
    type Payload = JsValue;

    async fn push(
        &self,
        stream: &StreamId,
        base_version: Version,
        events: &[PushEvent<JsValue>],
        conditions: &[PushCondition],
    ) -> PushOutcome {
        let path = match encode_stream_segment(stream) {
            Ok(segment) => format!("/streams/{segment}"),
            Err(e) => return PushOutcome::Rejected(failure(None, e.to_string())),
        };
        let list: Array = events.iter().map(push_to_js).collect();
        let body = Object::new();
        set(&body, "events", list.into());
        if !conditions.is_empty() {
            let sent: Array = conditions.iter().map(push_condition_to_js).collect();
            set(&body, "conditions", sent.into());
        }
        let body = match JSON::stringify(&body) {
            Ok(text) => String::from(text),
            Err(e) => {
                return PushOutcome::Rejected(failure(
                    None,
                    format!("cannot encode the batch: {}", describe(&e)),
                ))
            }
        };
        let precondition = if base_version.0 == 0 {
            ("If-None-Match", "*".to_string())
        } else {
            ("If-Match", format!("\"{}\"", base_version.0))
        };
        let answer = match self.send("POST", &path, &[precondition], Some(body)).await {
            Ok(answer) => answer,
            Err(failure) => return PushOutcome::Retry { failure, retry_after_ms: None },
        };
        match answer.status {
            200 | 201 => match push_response_from_js(&answer.body) {
                Ok(response) => PushOutcome::Accepted(response),
                Err(message) => PushOutcome::Retry {
                    failure: failure(Some(answer.status), message),
                    retry_after_ms: None,
                },
            },
            412 if error_code(&answer).as_deref() == Some("condition_failed") => {
                let event = get(&answer.body, "event");
                let whole = |v: JsValue| v.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0);
                condition_failed(
                    whole(get(&answer.body, "condition")).map(|n| n as u64),
                    get(&event, "id").as_string().as_deref(),
                    whole(get(&event, "position")).map(|n| n as u64),
                )
                .unwrap_or(PushOutcome::Conflict { actual: Version(0) })
            }
            status => classify_push(
                status,
                error_code(&answer).as_deref(),
                answer.retry_after_ms,
                self.answer_message(&path, &answer),
            ),
        }
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: u32,
    ) -> ReadOutcome<StreamReadResponse<JsValue>> {
        let Ok(segment) = encode_stream_segment(stream) else {
            return ReadOutcome::Retry {
                failure: failure(None, "stream id cannot be synced"),
                retry_after_ms: None,
            };
        };
        let path = format!("/streams/{segment}?after={}&limit={limit}", after.0);
        parsed(self.read(path, None).await, |body| {
            Ok(StreamReadResponse {
                version: Version(number(body, "version")?),
                events: events_from_js(body)?,
            })
        })
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: u32,
        filter: Option<&FeedFilter>,
    ) -> ReadOutcome<FeedReadResponse<JsValue>> {
        let mut path = format!("/events?after={}&limit={limit}", after.0);
        if let Some(filter) = filter {
            path.push('&');
            path.push_str(&filter.to_query_string());
        }
        parsed(self.read(path, Some(format!("\"{}\"", after.0))).await, |body| {
            let through = get(body, "through");
            Ok(FeedReadResponse {
                head: Position(number(body, "head")?),
                events: events_from_js(body)?,
                through: if through.is_undefined() {
                    None
                } else {
                    Some(Position(number(body, "through")?))
                },
            })
        })
    }
}
