//! [`FetchTransport`]: the sync protocol over the host's `fetch` (windows, workers,
//! service workers), with a timeout through `AbortController`, the bearer token in the
//! `Authorization` header only (never in a URL), and JSON parsed by the host
//! (`JSON.parse`), so no JSON library is compiled into the browser build.

use std::cell::RefCell;

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::sync::{classify_push, parse_retry_after, PushOutcome, ReadOutcome, Transport};
use crate::event::{Position, StreamId, Version};
use crate::outbox::Failure;
use crate::protocol::{
    encode_stream_segment, FeedReadResponse, PushEvent, StreamReadResponse,
};
use crate::web::convert::{events_from_js, number, push_response_from_js, push_to_js};
use crate::web::glue::get;

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

impl FetchTransport {
    /// A transport for the space at `base` (e.g. `https://sync.example/v1/shop`).
    pub fn new(base: impl Into<String>, token: Option<String>, timeout_ms: u32) -> Self {
        FetchTransport { base: base.into().trim_end_matches('/').to_string(), token: RefCell::new(token), timeout_ms }
    }

    /// Replaces the bearer token (`None`: send none).
    pub fn set_token(&self, token: Option<String>) {
        *self.token.borrow_mut() = token;
    }

    /// One request; `Err` is a network error or a timeout.
    async fn send(&self, method: &str, path: &str, headers: &[(&str, String)], body: Option<String>) -> Result<HttpAnswer, Failure> {
        let global = js_sys::global();
        let fetch: Function = get(&global, "fetch")
            .dyn_into()
            .map_err(|_| failure(None, "this host has no fetch"))?;
        let header_object = Object::new();
        let put = |k: &str, v: &str| Reflect::set(&header_object, &k.into(), &v.into()).map(drop);
        for (name, value) in headers {
            let _ = put(name, value);
        }
        if let Some(token) = self.token.borrow().as_deref() {
            let _ = put("Authorization", &format!("Bearer {token}"));
        }
        let init = Object::new();
        let _ = Reflect::set(&init, &"method".into(), &method.into());
        let _ = Reflect::set(&init, &"headers".into(), &header_object);
        let _ = Reflect::set(&init, &"cache".into(), &"no-store".into());
        if let Some(body) = body {
            let _ = put("Content-Type", "application/json");
            let _ = Reflect::set(&init, &"body".into(), &body.into());
        }
        // Timeout: abort the request after timeout_ms.
        let controller = get(&global, "AbortController")
            .dyn_into::<Function>()
            .ok()
            .and_then(|ctor| Reflect::construct(&ctor, &Array::new()).ok());
        let mut timer = JsValue::UNDEFINED;
        if let Some(controller) = &controller {
            let _ = Reflect::set(&init, &"signal".into(), &get(controller, "signal"));
            if let (Ok(abort), Ok(set_timeout)) =
                (get(controller, "abort").dyn_into::<Function>(), get(&global, "setTimeout").dyn_into::<Function>())
            {
                let bound = abort.bind0(controller);
                timer = set_timeout.call2(&global, &bound, &self.timeout_ms.into()).unwrap_or(JsValue::UNDEFINED);
            }
        }
        let url = format!("{}{}", self.base, path);
        let result = async {
            let promise: Promise = fetch
                .call2(&global, &url.into(), &init)
                .map_err(|e| failure(None, format!("fetch failed: {}", describe(&e))))?
                .dyn_into()
                .map_err(|_| failure(None, "fetch did not return a promise"))?;
            let response = JsFuture::from(promise).await.map_err(|e| {
                if get(&e, "name").as_string().as_deref() == Some("AbortError") {
                    failure(None, format!("timed out after {} ms", self.timeout_ms))
                } else {
                    failure(None, format!("network error: {}", describe(&e)))
                }
            })?;
            let status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
            let headers = get(&response, "headers");
            let retry_after = get_header(&headers, "Retry-After");
            let text_fn: Function = get(&response, "text").dyn_into().map_err(|_| failure(Some(status), "no body reader"))?;
            let text_promise: Promise = text_fn
                .call0(&response)
                .map_err(|e| failure(Some(status), describe(&e)))?
                .dyn_into()
                .map_err(|_| failure(Some(status), "no body"))?;
            let text = JsFuture::from(text_promise).await.map_err(|e| failure(Some(status), format!("reading the answer: {}", describe(&e))))?;
            let body = text
                .as_string()
                .filter(|t| !t.is_empty())
                .and_then(|t| JSON::parse(&t).ok())
                .unwrap_or(JsValue::UNDEFINED);
            Ok(HttpAnswer { status, retry_after_ms: parse_retry_after(retry_after.as_deref()), body })
        }
        .await;
        if let Ok(clear) = get(&global, "clearTimeout").dyn_into::<Function>() {
            let _ = clear.call1(&global, &timer);
        }
        result
    }

    async fn read<T>(&self, path: String, if_none_match: Option<String>, parse: impl Fn(&JsValue) -> Result<T, String>) -> ReadOutcome<T> {
        let headers: Vec<(&str, String)> = if_none_match.into_iter().map(|tag| ("If-None-Match", tag)).collect();
        let answer = match self.send("GET", &path, &headers, None).await {
            Ok(answer) => answer,
            Err(failure) => return ReadOutcome::Retry { failure, retry_after_ms: None },
        };
        match answer.status {
            200 => match parse(&answer.body) {
                Ok(body) => ReadOutcome::Fresh(body),
                Err(message) => ReadOutcome::Retry { failure: failure(Some(200), message), retry_after_ms: None },
            },
            304 => ReadOutcome::NotModified,
            401 | 403 => ReadOutcome::Unauthorized(failure(Some(answer.status), error_message(&answer))),
            status => ReadOutcome::Retry { failure: failure(Some(status), error_message(&answer)), retry_after_ms: answer.retry_after_ms },
        }
    }
}

fn get_header(headers: &JsValue, name: &str) -> Option<String> {
    let get_fn: Function = get(headers, "get").dyn_into().ok()?;
    get_fn.call1(headers, &name.into()).ok()?.as_string()
}

fn describe(error: &JsValue) -> String {
    get(error, "message").as_string().or_else(|| error.as_string()).unwrap_or_else(|| "unknown error".into())
}

impl Transport for FetchTransport {
    type Payload = JsValue;

    async fn push(&self, stream: &StreamId, base_version: Version, events: &[PushEvent<JsValue>]) -> PushOutcome {
        let path = match encode_stream_segment(stream) {
            Ok(segment) => format!("/streams/{segment}"),
            Err(e) => return PushOutcome::Rejected(failure(None, e.to_string())),
        };
        let list = Array::new();
        for event in events {
            match push_to_js(event) {
                Ok(js) => list.push(&js),
                Err(e) => return PushOutcome::Rejected(failure(None, e.to_string())),
            };
        }
        let body = Object::new();
        let _ = Reflect::set(&body, &"events".into(), &list);
        let body = match JSON::stringify(&body) {
            Ok(text) => String::from(text),
            Err(e) => return PushOutcome::Rejected(failure(None, format!("cannot encode the batch: {}", describe(&e)))),
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
                Err(message) => PushOutcome::Retry { failure: failure(Some(answer.status), message), retry_after_ms: None },
            },
            status => classify_push(status, answer.retry_after_ms, error_message(&answer)),
        }
    }

    async fn read_stream(&self, stream: &StreamId, after: Version, limit: u32) -> ReadOutcome<StreamReadResponse<JsValue>> {
        let Ok(segment) = encode_stream_segment(stream) else {
            return ReadOutcome::Retry { failure: failure(None, "stream id cannot be synced"), retry_after_ms: None };
        };
        let path = format!("/streams/{segment}?after={}&limit={limit}", after.0);
        self.read(path, None, |body| Ok(StreamReadResponse { version: Version(number(body, "version")?), events: events_from_js(body)? }))
            .await
    }

    async fn read_feed(&self, after: Position, limit: u32) -> ReadOutcome<FeedReadResponse<JsValue>> {
        let path = format!("/events?after={}&limit={limit}", after.0);
        self.read(path, Some(format!("\"{}\"", after.0)), |body| {
            Ok(FeedReadResponse { head: Position(number(body, "head")?), events: events_from_js(body)? })
        })
        .await
    }
}
