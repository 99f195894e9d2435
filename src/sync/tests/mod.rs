//! Native tests of the sync engine: memory stores as clients, the real server handler
//! (`server::handle` over `MemoryServerStore`) as their counterpart, with faults injected
//! between them (5xx, 429 + Retry-After, lost responses, network errors, 401, 413).
#![cfg(feature = "server")]

use crate::test_util::{block_on, sid};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::env::Environment;
use crate::event::{EventType, ExpectedVersion, NewEvent};
use crate::outbox::RetryPolicy;
use crate::protocol::{encode_stream_segment, ErrorBody, PushCondition, PushRequest};
use crate::server::{handle, Config, MemoryServerStore, Request};
use crate::store::{EventStore, MemoryStore, ReadOptions};

/// A clock the test moves, and a seeded random source.
#[derive(Debug)]
struct TestEnv {
    now: Cell<u64>,
    seed: Cell<u64>,
}

impl TestEnv {
    fn new(seed: u64) -> Rc<Self> {
        Rc::new(TestEnv { now: Cell::new(1_700_000_000_000), seed: Cell::new(seed | 1) })
    }
    fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }
}

impl Environment for TestEnv {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn random_bytes(&self) -> [u8; 10] {
        // xorshift64*
        let mut x = self.seed.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed.set(x);
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[0] ^ v[7], v[1] ^ v[6]]
    }
}

/// What the network does to the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The server answers with this status (without applying the request).
    Status(u16),
    /// 429 with `Retry-After: 2`.
    TooMany,
    /// The request never reaches the server.
    NetworkDown,
    /// The server applies the request but the answer is lost.
    LostResponse,
}

/// The real server handler behind a faulty wire.
struct ServerTransport {
    server: Rc<MemoryServerStore>,
    config: Config,
    faults: RefCell<VecDeque<Fault>>,
    token: RefCell<Option<String>>,
    required_token: Option<String>,
    injected: RefCell<HashMap<String, usize>>,
    /// Every request that reached the server: its path and the answer's status.
    log: RefCell<Vec<(String, u16)>>,
    /// Behave like a server that predates feed filters: drop `stream=`/`prefix=`.
    no_filters: Cell<bool>,
}

impl ServerTransport {
    fn new(server: Rc<MemoryServerStore>) -> Self {
        ServerTransport {
            server,
            config: Config::default(),
            faults: RefCell::default(),
            token: RefCell::default(),
            required_token: None,
            injected: RefCell::default(),
            log: RefCell::default(),
            no_filters: Cell::new(false),
        }
    }

    fn fault(&self, fault: Fault) {
        self.faults.borrow_mut().push_back(fault);
    }

    /// Sends through the faults; `None` is a network error.
    fn exchange(&self, mut request: Request) -> Option<crate::server::Response> {
        if self.no_filters.get() {
            let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.starts_with("stream=") && !p.starts_with("prefix="))
                .collect();
            request.path = format!("{path}?{}", kept.join("&"));
        }
        if let Some(required) = &self.required_token {
            if self.token.borrow().as_deref() != Some(required.as_str()) {
                return Some(crate::server::Response::error(401, "unauthorized", "bad token"));
            }
        }
        let fault = self.faults.borrow_mut().pop_front();
        if let Some(f) = fault {
            *self.injected.borrow_mut().entry(format!("{f:?}")).or_default() += 1;
        }
        match fault {
            None => {
                let path = request.path.clone();
                let response = block_on(handle(&*self.server, &self.config, request));
                self.log.borrow_mut().push((path, response.status));
                Some(response)
            }
            Some(Fault::Status(status)) => {
                Some(crate::server::Response::error(status, "injected", "injected fault"))
            }
            Some(Fault::TooMany) => {
                Some(crate::server::Response::error(429, "busy", "slow down").with_retry_after(2))
            }
            Some(Fault::NetworkDown) => None,
            Some(Fault::LostResponse) => {
                let _ = block_on(handle(&*self.server, &self.config, request));
                None
            }
        }
    }
}

/// The protocol's HTTP mapping, shared by the test transports: requests as
/// docs/protocol.md says, answers classified as the fetch transport classifies them.
pub(super) mod http {
    use super::*;
    use crate::server::Response;

    /// `POST /streams/{stream}` with the batch and its precondition.
    pub fn push_request(
        stream: &StreamId,
        base_version: Version,
        events: &[PushEvent<Value>],
        conditions: &[PushCondition],
    ) -> Request {
        let path = format!("/streams/{}", encode_stream_segment(stream).unwrap_or_default());
        let body = serde_json::to_vec(&PushRequest {
            events: events.to_vec(),
            conditions: conditions.to_vec(),
        })
        .unwrap_or_default();
        let request = Request::new("POST", path).with_body(body);
        if base_version.0 == 0 {
            request.with_header("If-None-Match", "*")
        } else {
            request.with_header("If-Match", format!("\"{}\"", base_version.0))
        }
    }

    /// `GET /streams/{stream}?after=&limit=`.
    pub fn stream_request(stream: &StreamId, after: Version, limit: u32) -> Request {
        Request::new(
            "GET",
            format!(
                "/streams/{}?after={}&limit={limit}",
                encode_stream_segment(stream).unwrap_or_default(),
                after.0
            ),
        )
    }

    /// `GET /events?after=&limit=` with `If-None-Match: "<after>"`.
    pub fn feed_request(after: Position, limit: u32, filter: Option<&FeedFilter>) -> Request {
        let filter = filter.map(|f| format!("&{}", f.to_query_string())).unwrap_or_default();
        Request::new("GET", format!("/events?after={}&limit={limit}{filter}", after.0))
            .with_header("If-None-Match", format!("\"{}\"", after.0))
    }

    fn failure(response: &Response) -> Failure {
        let message = serde_json::from_slice::<ErrorBody>(&response.body)
            .map_or_else(|_| "no body".into(), |b| b.message);
        Failure { status: Some(response.status), message }
    }

    /// The server's error code (the `error` of its JSON body), if any.
    fn error_code(response: &Response) -> Option<String> {
        serde_json::from_slice::<ErrorBody>(&response.body).ok().map(|b| b.error)
    }

    fn network_error() -> Failure {
        Failure { status: None, message: "network error".into() }
    }

    /// A push's answer (`None`: the network failed).
    pub fn push_outcome(response: Option<Response>) -> PushOutcome {
        let Some(response) = response else {
            return PushOutcome::Retry { failure: network_error(), retry_after_ms: None };
        };
        match response.status {
            200 | 201 => match serde_json::from_slice(&response.body) {
                Ok(answer) => PushOutcome::Accepted(answer),
                Err(e) => PushOutcome::Retry {
                    failure: Failure { status: Some(response.status), message: e.to_string() },
                    retry_after_ms: None,
                },
            },
            412 if error_code(&response).as_deref() == Some("condition_failed") => {
                let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
                condition_failed(
                    body["condition"].as_u64(),
                    body["event"]["id"].as_str(),
                    body["event"]["position"].as_u64(),
                )
                .unwrap_or(PushOutcome::Conflict { actual: Version(0) })
            }
            status => classify_push(
                status,
                error_code(&response).as_deref(),
                parse_retry_after(response.header("Retry-After")),
                failure(&response).message,
            ),
        }
    }

    /// A read's answer (`None`: the network failed).
    pub fn read_outcome<T: serde::de::DeserializeOwned>(
        response: Option<Response>,
    ) -> ReadOutcome<T> {
        let Some(response) = response else {
            return ReadOutcome::Retry { failure: network_error(), retry_after_ms: None };
        };
        match response.status {
            200 => match serde_json::from_slice(&response.body) {
                Ok(body) => ReadOutcome::Fresh(body),
                Err(e) => ReadOutcome::Retry {
                    failure: Failure { status: Some(200), message: e.to_string() },
                    retry_after_ms: None,
                },
            },
            304 => ReadOutcome::NotModified,
            status => match pause_kind(status, error_code(&response).as_deref()) {
                Some(kind) => ReadOutcome::Paused(kind, failure(&response)),
                None => ReadOutcome::Retry {
                    failure: failure(&response),
                    retry_after_ms: parse_retry_after(response.header("Retry-After")),
                },
            },
        }
    }
}

impl Transport for ServerTransport {
    type Payload = Value;

    async fn push(
        &self,
        stream: &StreamId,
        base_version: Version,
        events: &[PushEvent<Value>],
        conditions: &[PushCondition],
    ) -> PushOutcome {
        http::push_outcome(self.exchange(http::push_request(
            stream,
            base_version,
            events,
            conditions,
        )))
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: u32,
    ) -> ReadOutcome<StreamReadResponse<Value>> {
        http::read_outcome(self.exchange(http::stream_request(stream, after, limit)))
    }

    async fn read_feed(
        &self,
        after: Position,
        limit: u32,
        filter: Option<&FeedFilter>,
    ) -> ReadOutcome<FeedReadResponse<Value>> {
        http::read_outcome(self.exchange(http::feed_request(after, limit, filter)))
    }
}

type Client = MemoryStore<Value, Rc<TestEnv>>;

fn client(env: &Rc<TestEnv>) -> Client {
    MemoryStore::with_environment(env.clone())
}

fn append(store: &Client, stream: &str, values: &[i64]) {
    let events =
        values.iter().map(|v| NewEvent::new(EventType::new("N").unwrap(), json!(*v))).collect();
    block_on(store.append(&sid(stream), ExpectedVersion::Any, events)).unwrap();
}

fn data(store: &Client, stream: &str) -> Vec<Value> {
    block_on(store.read(&sid(stream), ReadOptions::default()))
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect()
}

fn server_data(server: &MemoryServerStore, stream: &str) -> Vec<Value> {
    server
        .all_events()
        .into_iter()
        .filter(|e| e.stream.as_str() == stream)
        .map(|e| e.data)
        .collect()
}

fn engine(server: &Rc<MemoryServerStore>, policy: ConflictPolicy) -> SyncEngine<ServerTransport> {
    let options = SyncOptions {
        policy,
        retry: RetryPolicy { base_ms: 100, cap_ms: 1_000 },
        ..SyncOptions::default()
    };
    SyncEngine::new(ServerTransport::new(server.clone()), options)
}

fn run(engine: &SyncEngine<ServerTransport>, store: &Client, env: &Rc<TestEnv>) -> SyncReport {
    block_on(engine.run(store, env)).unwrap()
}

/// Rounds until nothing is pending (advancing the clock past backoffs); bounded.
fn drain(engine: &SyncEngine<ServerTransport>, store: &Client, env: &Rc<TestEnv>) -> usize {
    for round in 1..=50 {
        let report = run(engine, store, env);
        let pending = block_on(store.outbox()).unwrap();
        if pending.is_empty() && !report.more_now {
            return round;
        }
        env.advance(report.next_attempt_at.map_or(10, |t| t.saturating_sub(env.now_ms()) + 1));
    }
    panic!("did not drain in 50 rounds");
}

#[test]
fn happy_path_two_devices_converge() {
    let env = TestEnv::new(1);
    let server = Rc::new(MemoryServerStore::new());
    let (a, b) = (client(&env), client(&env));
    let (ea, eb) =
        (engine(&server, ConflictPolicy::Rebase), engine(&server, ConflictPolicy::Rebase));
    append(&a, "list", &[1, 2, 3]);
    append(&b, "other", &[10]);
    let report = run(&ea, &a, &env);
    assert_eq!((report.pushed, report.requests), (3, 2), "one batch, one feed poll");
    run(&eb, &b, &env);
    run(&ea, &a, &env);
    assert_eq!(data(&b, "list"), [json!(1), json!(2), json!(3)]);
    assert_eq!(data(&a, "other"), [json!(10)]);
    assert!(block_on(a.outbox()).unwrap().is_empty());
    // An idle poll is one request answered by a 304.
    let idle = run(&ea, &a, &env);
    assert_eq!((idle.requests, idle.pulled, idle.pushed), (1, 0, 0));
}

fn engine_pulling(server: &Rc<MemoryServerStore>, pull: FeedFilter) -> SyncEngine<ServerTransport> {
    let options = SyncOptions { pull: Some(pull), ..SyncOptions::default() };
    SyncEngine::new(ServerTransport::new(server.clone()), options)
}

fn scope(streams: &[&str], prefixes: &[&str]) -> FeedFilter {
    FeedFilter {
        streams: streams.iter().map(|s| sid(s)).collect(),
        prefixes: prefixes.iter().map(|s| sid(s)).collect(),
    }
}

#[test]
fn partial_sync_pulls_its_scope_polls_with_304s_and_widens_without_pulling_again() {
    let env = TestEnv::new(11);
    let server = Rc::new(MemoryServerStore::new());
    let (w, c) = (client(&env), client(&env));
    let ew = engine(&server, ConflictPolicy::Rebase);
    let ec = engine_pulling(&server, scope(&[], &["cart-"]));
    append(&w, "cart-1", &[1]);
    append(&w, "order-1", &[2]);
    append(&w, "cart-2", &[3]);
    drain(&ew, &w, &env);
    let report = run(&ec, &c, &env);
    assert_eq!(report.pulled, 2);
    assert_eq!((data(&c, "cart-1"), data(&c, "cart-2")), (vec![json!(1)], vec![json!(3)]));
    assert!(data(&c, "order-1").is_empty(), "out of scope: never received");
    // Only other streams change: the poll is one 304.
    append(&w, "order-1", &[4]);
    drain(&ew, &w, &env);
    ec.transport().log.borrow_mut().clear();
    let idle = run(&ec, &c, &env);
    assert_eq!((idle.requests, idle.pulled), (1, 0));
    assert_eq!(ec.transport().log.borrow()[0].1, 304);
    // Pushes are not filtered: the device writes a stream outside its scope.
    append(&c, "order-9", &[9]);
    assert_eq!(run(&ec, &c, &env).pushed, 1);
    // In scope again: pulled.
    append(&w, "cart-1", &[5]);
    drain(&ew, &w, &env);
    run(&ec, &c, &env);
    assert_eq!(data(&c, "cart-1"), [json!(1), json!(5)]);
    // Widen to order-1 as well: a second lane reads only order-1 from the start; the
    // cart lane goes on from its cursor, so no cart event is fetched twice.
    let wide = engine_pulling(&server, scope(&["order-1"], &["cart-"]));
    let report = run(&wide, &c, &env);
    assert_eq!(report.pulled, 2);
    assert_eq!(data(&c, "order-1"), [json!(2), json!(4)]);
    let log = wide.transport().log.borrow().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!((log[0].0.as_str(), log[0].1), ("/events?after=6&limit=1000&prefix=cart-", 304));
    assert_eq!(log[1].0, "/events?after=0&limit=1000&stream=order-1");
    // Both lanes reached the head: one lane again, one request per poll.
    let cursor = block_on(c.feed_cursor()).unwrap();
    assert_eq!(cursor.lanes.len(), 1, "{cursor:?}");
    wide.transport().log.borrow_mut().clear();
    append(&w, "other", &[6]);
    drain(&ew, &w, &env);
    assert_eq!(run(&wide, &c, &env).requests, 1);
    assert_eq!(wide.transport().log.borrow()[0].1, 304);
    // Everything: the rest of the feed, once.
    let all = engine(&server, ConflictPolicy::Rebase);
    run(&all, &c, &env);
    assert_eq!(data(&c, "other"), [json!(6)]);
    assert_eq!(data(&c, "order-1"), [json!(2), json!(4)]);
}

#[test]
fn a_first_sync_reports_progress_page_by_page_and_resumes_where_it_stopped() {
    let env = TestEnv::new(13);
    let server = Rc::new(MemoryServerStore::new());
    let (w, c) = (client(&env), client(&env));
    drain(&engine(&server, ConflictPolicy::Rebase), &w, &env);
    for i in 0..10 {
        append(&w, &format!("s{}", i % 3), &[i]);
    }
    drain(&engine(&server, ConflictPolicy::Rebase), &w, &env);
    // Three pages of 4 events, at most 2 requests this round: stops after page 2.
    let options = SyncOptions { page: 4, max_requests: 2, ..SyncOptions::default() };
    let ec = SyncEngine::new(ServerTransport::new(server.clone()), options.clone());
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    ec.on_progress(move |p| log.borrow_mut().push((p.received, p.position.0, p.head.0)));
    assert_eq!(run(&ec, &c, &env).pulled, 8);
    assert_eq!(*seen.borrow(), [(4, 4, 10), (8, 8, 10)]);
    // A new engine (a reload) goes on from the stored cursor: the last page only.
    let again = SyncEngine::new(ServerTransport::new(server.clone()), options);
    assert_eq!(run(&again, &c, &env).pulled, 2);
    assert_eq!(again.transport().log.borrow()[0].0, "/events?after=8&limit=4");
    let held: usize = (0..3).map(|i| data(&c, &format!("s{i}")).len()).sum();
    assert_eq!(held, 10, "each event once");
}

#[test]
fn against_a_server_without_filters_the_client_filters() {
    let env = TestEnv::new(12);
    let server = Rc::new(MemoryServerStore::new());
    let (w, c) = (client(&env), client(&env));
    let ew = engine(&server, ConflictPolicy::Rebase);
    let ec = engine_pulling(&server, scope(&["b"], &["cart-"]));
    ec.transport().no_filters.set(true);
    append(&w, "cart-1", &[1]);
    append(&w, "order-1", &[2]);
    append(&w, "b", &[3]);
    drain(&ew, &w, &env);
    assert_eq!(run(&ec, &c, &env).pulled, 2);
    assert_eq!((data(&c, "cart-1"), data(&c, "b")), (vec![json!(1)], vec![json!(3)]));
    assert!(data(&c, "order-1").is_empty());
    assert_eq!(block_on(c.feed_cursor()).unwrap().lanes[0].position, Position(3));
}

#[test]
fn server_errors_back_off_and_keep_everything() {
    let env = TestEnv::new(2);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Rebase);
    append(&a, "s", &[1, 2]);
    e.transport().fault(Fault::Status(503));
    let report = run(&e, &a, &env);
    assert_eq!(report.pushed, 0);
    assert_eq!(report.last_error.as_ref().and_then(|f| f.status), Some(503));
    let entry = &block_on(a.outbox()).unwrap()[0];
    assert_eq!(entry.attempts, 1);
    assert!(entry.next_attempt_at >= env.now_ms(), "waits");
    assert!(entry.next_attempt_at <= env.now_ms() + 100, "first backoff under base");
    // Not due yet: nothing is sent.
    e.transport().fault(Fault::Status(500));
    drain(&e, &a, &env);
    assert_eq!(server_data(&server, "s"), [json!(1), json!(2)]);
}

#[test]
fn retry_after_is_honoured() {
    let env = TestEnv::new(3);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Rebase);
    append(&a, "s", &[1]);
    e.transport().fault(Fault::TooMany);
    let before = env.now_ms();
    run(&e, &a, &env);
    let entry = &block_on(a.outbox()).unwrap()[0];
    assert_eq!(entry.next_attempt_at, before + 2_000);
    env.advance(1_000);
    assert_eq!(run(&e, &a, &env).pushed, 0, "still waiting");
    env.advance(1_001);
    assert_eq!(run(&e, &a, &env).pushed, 1);
}

#[test]
fn a_lost_response_is_retried_without_duplicates_or_false_conflicts() {
    let env = TestEnv::new(4);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Quarantine);
    append(&a, "s", &[1, 2]);
    e.transport().fault(Fault::LostResponse);
    e.transport().fault(Fault::NetworkDown); // the round's feed poll fails too
    run(&e, &a, &env);
    assert_eq!(server_data(&server, "s").len(), 2, "the server applied the batch");
    assert_eq!(block_on(a.outbox()).unwrap().len(), 1, "the client does not know yet");
    drain(&e, &a, &env);
    assert_eq!(server_data(&server, "s"), [json!(1), json!(2)], "no duplicates");
    assert!(a.conflicts().is_empty(), "no false conflict");
    assert!(a.dead_letters().is_empty());
}

#[test]
fn a_lost_answer_then_more_appends_is_not_a_dead_letter() {
    // Found by the soak (seed 42): push [1, 2] stored but its answer lost, the feed poll
    // failed too; then 3 is appended and [1, 2, 3] is pushed as one batch: the server
    // answers 409 partial_retry. The engine must pull, acknowledge 1 and 2, push 3.
    let env = TestEnv::new(15);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Rebase);
    append(&a, "s", &[1, 2]);
    e.transport().fault(Fault::LostResponse);
    e.transport().fault(Fault::NetworkDown);
    run(&e, &a, &env);
    append(&a, "s", &[3]);
    env.advance(1_000); // past the backoff: the round pushes before it polls the feed
    drain(&e, &a, &env);
    assert!(a.dead_letters().is_empty(), "dead letters: {:?}", a.dead_letters());
    assert_eq!(server_data(&server, "s"), [json!(1), json!(2), json!(3)]);
    assert_eq!(data(&a, "s"), [json!(1), json!(2), json!(3)]);
}

#[test]
fn a_pull_acknowledges_events_whose_push_answer_was_lost() {
    let env = TestEnv::new(14);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Quarantine);
    append(&a, "s", &[1, 2]);
    e.transport().fault(Fault::LostResponse);
    let report = run(&e, &a, &env);
    assert_eq!(report.requests, 2, "push + feed poll");
    assert!(block_on(a.outbox()).unwrap().is_empty(), "the feed showed our events: acknowledged");
    assert_eq!(data(&a, "s"), [json!(1), json!(2)], "nothing rewritten");
    assert_eq!(server_data(&server, "s").len(), 2);
}

#[test]
fn conflict_rebases_pending_events_after_the_remote_ones() {
    let env = TestEnv::new(5);
    let server = Rc::new(MemoryServerStore::new());
    let (a, b) = (client(&env), client(&env));
    let (ea, eb) =
        (engine(&server, ConflictPolicy::Rebase), engine(&server, ConflictPolicy::Rebase));
    append(&a, "cart", &[1, 2]);
    append(&b, "cart", &[10, 20]);
    drain(&ea, &a, &env);
    let report = run(&eb, &b, &env);
    assert_eq!(report.conflicted, 2);
    drain(&eb, &b, &env);
    drain(&ea, &a, &env);
    let expected = [json!(1), json!(2), json!(10), json!(20)];
    assert_eq!(server_data(&server, "cart"), expected);
    assert_eq!(data(&a, "cart"), expected);
    assert_eq!(data(&b, "cart"), expected, "b rebased its events after a's");
}

#[test]
fn quarantine_keeps_conflicting_events_aside_until_settled() {
    let env = TestEnv::new(6);
    let server = Rc::new(MemoryServerStore::new());
    let (a, b) = (client(&env), client(&env));
    let (ea, eb) =
        (engine(&server, ConflictPolicy::Rebase), engine(&server, ConflictPolicy::Quarantine));
    append(&a, "cart", &[1]);
    append(&b, "cart", &[10]);
    drain(&ea, &a, &env);
    drain(&eb, &b, &env);
    assert_eq!(data(&b, "cart"), [json!(1)], "b's event is out of the stream");
    let conflicts = b.conflicts();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].local[0].data, json!(10));
    assert_eq!(conflicts[0].remote[0].data, json!(1));
    assert!(b.settle_conflict(conflicts[0].id, conflicts[0].local.clone()).unwrap());
    drain(&eb, &b, &env);
    assert_eq!(server_data(&server, "cart"), [json!(1), json!(10)]);
}

#[test]
fn refused_batches_become_dead_letters_and_the_stream_goes_on() {
    let env = TestEnv::new(7);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Rebase);
    append(&a, "s", &[1]);
    e.transport().fault(Fault::Status(422));
    run(&e, &a, &env);
    let dead = a.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].failure.status, Some(422));
    assert_eq!(dead[0].events[0].data, json!(1));
    append(&a, "s", &[2]);
    drain(&e, &a, &env);
    assert_eq!(server_data(&server, "s"), [json!(2)], "later events still sync");
    assert!(a.retry_dead_letter(dead[0].id).unwrap());
    drain(&e, &a, &env);
    assert_eq!(server_data(&server, "s"), [json!(2), json!(1)]);
    assert!(a.dead_letters().is_empty());
}

#[test]
fn unauthorized_pauses_and_keeps_everything() {
    let env = TestEnv::new(8);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let mut transport = ServerTransport::new(server.clone());
    transport.required_token = Some("secret".into());
    let e = SyncEngine::new(transport, SyncOptions::default());
    append(&a, "s", &[1]);
    let report = run(&e, &a, &env);
    assert_eq!(
        report.paused.as_ref().map(|(k, f)| (*k, f.status)),
        Some((SyncErrorKind::Auth, Some(401)))
    );
    assert_eq!(report.requests, 1, "no feed poll after a 401");
    assert_eq!(block_on(a.outbox()).unwrap().len(), 1, "kept");
    *e.transport().token.borrow_mut() = Some("secret".into());
    assert_eq!(run(&e, &a, &env).pushed, 1);
}

#[test]
fn a_wrong_url_pauses_as_not_found_and_keeps_everything() {
    // The real server core mounted elsewhere: every request of the client misses it.
    let env = TestEnv::new(8);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let mut transport = ServerTransport::new(server.clone());
    transport.config.base_path = "/v1/elsewhere".into();
    let e = SyncEngine::new(transport, SyncOptions::default());
    let pull = run(&e, &a, &env);
    assert_eq!(pull.paused.map(|(k, f)| (k, f.status)), Some((SyncErrorKind::NotFound, Some(404))));
    append(&a, "s", &[1]);
    let push = run(&e, &a, &env);
    assert_eq!(push.paused.map(|(k, f)| (k, f.status)), Some((SyncErrorKind::NotFound, Some(404))));
    assert_eq!(push.requests, 1, "nothing more after the 404");
    assert_eq!(block_on(a.outbox()).unwrap().len(), 1, "kept");
}

#[test]
fn answers_only_the_app_can_fix_pause_with_their_kind() {
    use SyncErrorKind::*;
    assert_eq!(pause_kind(401, Some("unauthorized")), Some(Auth));
    assert_eq!(pause_kind(403, Some("forbidden")), Some(Auth));
    assert_eq!(pause_kind(403, None), Some(Auth));
    assert_eq!(pause_kind(403, Some("origin_not_allowed")), Some(ForbiddenOrigin));
    assert_eq!(pause_kind(404, Some("not_found")), Some(NotFound));
    assert_eq!(pause_kind(404, None), Some(NotFound));
    assert_eq!(pause_kind(405, None), Some(NotFound));
    for status in [400, 408, 409, 412, 413, 422, 429, 500, 503] {
        assert_eq!(pause_kind(status, Some("origin_not_allowed")), None, "{status}");
    }
    assert_eq!(ForbiddenOrigin.code(), "forbidden_origin");
    assert_eq!(NotFound.code(), "not_found");
    let failure = Failure { status: Some(403), message: "no".into() };
    assert_eq!(
        classify_push(403, Some("origin_not_allowed"), None, "no"),
        PushOutcome::Paused(ForbiddenOrigin, failure)
    );
}

#[test]
fn too_large_batches_are_split() {
    let env = TestEnv::new(9);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let mut transport = ServerTransport::new(server.clone());
    transport.config.max_batch_events = 3;
    let e = SyncEngine::new(transport, SyncOptions::default());
    append(&a, "s", &(0..10).collect::<Vec<_>>());
    drain(&e, &a, &env);
    assert_eq!(server_data(&server, "s").len(), 10);
    assert!(a.dead_letters().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// N clients x M events on shared streams, random faults: after draining, the server
    /// holds every event exactly once, each client's events in its order, and every
    /// client holds exactly the server's order.
    #[test]
    fn every_event_exactly_once_and_everyone_converges(
        seed in any::<u64>(),
        steps in proptest::collection::vec((0usize..3, 0usize..3, 1usize..4, proptest::option::of(0usize..5)), 1..40),
    ) {
        let env = TestEnv::new(seed);
        let server = Rc::new(MemoryServerStore::new());
        let clients: Vec<Client> = (0..3).map(|_| client(&env)).collect();
        let engines: Vec<_> = (0..3).map(|_| engine(&server, ConflictPolicy::Rebase)).collect();
        let faults = [Fault::Status(500), Fault::TooMany, Fault::NetworkDown, Fault::LostResponse, Fault::Status(503)];
        let mut written: Vec<Vec<(String, i64)>> = vec![Vec::new(); 3];
        let mut n = 0i64;
        for (who, stream, count, fault) in steps {
            let stream_name = format!("s{stream}");
            let values: Vec<i64> = (0..count).map(|_| { n += 1; n }).collect();
            append(&clients[who], &stream_name, &values);
            written[who].extend(values.iter().map(|v| (stream_name.clone(), *v)));
            if let Some(f) = fault {
                engines[who].transport().fault(faults[f]);
            }
            run(&engines[who], &clients[who], &env);
            env.advance(50);
        }
        for _ in 0..3 {
            for (c, e) in clients.iter().zip(&engines) {
                drain(e, c, &env);
            }
        }
        let all = server.all_events();
        let mut seen = std::collections::HashSet::new();
        for e in &all {
            prop_assert!(seen.insert(e.id.clone()), "duplicate {} on the server", e.id);
        }
        prop_assert_eq!(all.len() as i64, n, "every event reached the server");
        for (who, events) in written.iter().enumerate() {
            for stream in ["s0", "s1", "s2"] {
                let mine: Vec<i64> = events.iter().filter(|(s, _)| s == stream).map(|(_, v)| *v).collect();
                let on_server: Vec<i64> = server_data(&server, stream).into_iter().filter_map(|v| v.as_i64()).filter(|v| mine.contains(v)).collect();
                prop_assert_eq!(&on_server, &mine, "client {}'s order in {}", who, stream);
                prop_assert_eq!(data(&clients[who], stream), server_data(&server, stream), "client {} converged on {}", who, stream);
            }
        }
    }
}

mod soak;

#[test]
fn a_dead_tabs_lease_delays_a_normal_round_but_not_a_takeover() {
    let env = TestEnv::new(21);
    let server = Rc::new(MemoryServerStore::new());
    let a = client(&env);
    let e = engine(&server, ConflictPolicy::Rebase);
    append(&a, "s", &[1]);
    // A tab took the lease and died before its request finished.
    let mut entry = block_on(a.outbox()).unwrap().remove(0);
    entry.lease(env.now_ms(), 60_000);
    block_on(a.save_outbox_entry(&entry)).unwrap();
    assert_eq!(run(&e, &a, &env).pushed, 0, "a live lease is respected");
    let report = block_on(e.run_now(&a, &env)).unwrap();
    assert_eq!(report.pushed, 1, "the tab taking over the sync lock resends at once");
    assert_eq!(server_data(&server, "s"), [json!(1)]);
}

// ---- append conditions enforced again at sync (issue 16) --------------------------------

fn claimed(name: &str) -> crate::query::Query {
    use crate::event::Tag;
    use crate::query::{Query, QueryItem};
    let item = QueryItem::of_types(vec![EventType::new("UsernameClaimed").unwrap()])
        .with_tags(vec![Tag::new(format!("username:{name}")).unwrap()]);
    Query::Items(vec![item])
}

/// Claims `name` for `account` if no claim of it is known after `after` (a decision).
fn claim(
    store: &Client,
    account: &str,
    name: &str,
    rule: crate::query::Query,
    after: Option<Position>,
) -> crate::error::Result<crate::event::AppendResult> {
    use crate::event::Tag;
    use crate::query::AppendCondition;
    let event = NewEvent::new(EventType::new("UsernameClaimed").unwrap(), json!(account))
        .with_tags(vec![Tag::new(format!("username:{name}")).unwrap()]);
    let condition = AppendCondition { fail_if_events_match: rule, after };
    block_on(store.append_if(&sid(account), ExpectedVersion::Any, Some(&condition), vec![event]))
}

fn claims(events: Vec<crate::event::Event<Value>>) -> Vec<Value> {
    events
        .into_iter()
        .filter(|e| e.event_type.as_str() == "UsernameClaimed")
        .map(|e| e.data)
        .collect()
}

fn local_claims(store: &Client) -> Vec<Value> {
    claims(block_on(store.read_all(Position(0), usize::MAX)).unwrap())
}

#[test]
fn two_offline_claims_of_one_username_leave_one_standing_and_the_other_in_conflicts() {
    for policy in [ConflictPolicy::Rebase, ConflictPolicy::Quarantine] {
        let env = TestEnv::new(21);
        let server = Rc::new(MemoryServerStore::new());
        let (a, b) = (client(&env), client(&env));
        let (ea, eb) = (engine(&server, ConflictPolicy::Rebase), engine(&server, policy));
        // Both offline, both see no claim of "ada": both decide yes.
        claim(&a, "account-a", "ada", claimed("ada"), None).unwrap();
        claim(&b, "account-b", "ada", claimed("ada"), None).unwrap();
        append(&b, "account-b", &[7]); // a later event of b's, not conditional
        drain(&ea, &a, &env);
        let report = run(&eb, &b, &env);
        assert_eq!(report.conflicted, 1, "{policy:?}");
        assert!(
            server.all_events().iter().all(|e| e.data != json!("account-b")),
            "{policy:?}: the server refused b's claim"
        );
        drain(&eb, &b, &env);
        drain(&ea, &a, &env);
        assert_eq!(claims(server.all_events()), [json!("account-a")], "{policy:?}");
        assert_eq!(local_claims(&a), [json!("account-a")], "{policy:?}");
        assert_eq!(local_claims(&b), [json!("account-a")], "{policy:?}: b holds a's claim");
        assert_eq!(server_data(&server, "account-b"), [json!(7)], "{policy:?}: nothing else lost");
        assert_eq!(data(&b, "account-b"), [json!(7)], "{policy:?}");
        let conflicts = b.conflicts();
        assert_eq!(conflicts.len(), 1, "{policy:?}");
        let conflict = &conflicts[0];
        assert_eq!(conflict.stream, sid("account-b"));
        assert_eq!(conflict.local.len(), 1);
        assert_eq!(conflict.local[0].data, json!("account-b"));
        assert_eq!(conflict.remote.len(), 1, "{policy:?}: the matching event");
        assert_eq!(conflict.remote[0].data, json!("account-a"));
        assert_eq!(conflict.remote[0].stream, sid("account-a"));
        let condition = conflict.condition.as_ref().expect("the condition");
        assert_eq!(condition.fail_if_events_match, claimed("ada"));
        assert!(block_on(b.outbox()).unwrap().is_empty(), "{policy:?}");
        // The app may settle it (say, a different name): it goes out as usual.
        assert!(b.settle_conflict(conflict.id, Vec::new()).unwrap());
        assert!(b.conflicts().is_empty());
    }
}

#[test]
fn a_condition_pushed_with_what_the_device_had_seen_passes_the_server() {
    let env = TestEnv::new(22);
    let server = Rc::new(MemoryServerStore::new());
    let (a, b) = (client(&env), client(&env));
    let (ea, eb) =
        (engine(&server, ConflictPolicy::Rebase), engine(&server, ConflictPolicy::Rebase));
    let any_claim =
        crate::query::Query::Items(vec![crate::query::QueryItem::of_types(vec![EventType::new(
            "UsernameClaimed",
        )
        .unwrap()])]);
    append(&a, "noise", &[1, 2, 3]);
    claim(&a, "account-a", "bob", claimed("bob"), None).unwrap();
    drain(&ea, &a, &env);
    drain(&eb, &b, &env);
    // b saw a's claim (pulled: server position 4) and its own pending claim of "cy" in
    // another stream, and decides "no claim at all after what I saw".
    claim(&b, "account-c", "cy", claimed("cy"), None).unwrap();
    let seen = block_on(b.query(&any_claim, crate::query::QueryOptions::default()))
        .unwrap()
        .last()
        .map(|e| e.position);
    claim(&b, "account-b", "dee", any_claim.clone(), seen).unwrap();
    let batch =
        block_on(b.pending_batch(&sid("account-b"), BatchLimits::default())).unwrap().unwrap();
    assert_eq!(batch.conditions.len(), 1);
    let sent = &batch.conditions[0];
    assert_eq!((sent.event, sent.after), (0, Position(4)), "after: the feed b had pulled");
    assert_eq!(sent.known.len(), 2, "a's claim and b's own pending one");
    let unconditional =
        block_on(b.pending_batch(&sid("account-c"), BatchLimits::default())).unwrap().unwrap();
    assert_eq!(unconditional.conditions.len(), 1, "cy's own condition");
    drain(&eb, &b, &env);
    assert!(b.conflicts().is_empty());
    assert_eq!(claims(server.all_events()).len(), 3, "every claim stands");
    // A claim decided before b's reached the server is refused: "any claim" matches.
    claim(&a, "account-z", "zed", any_claim, Some(Position(4))).unwrap();
    drain(&ea, &a, &env);
    assert_eq!(a.conflicts().len(), 1);
    assert_eq!(a.conflicts()[0].remote.len(), 2, "both of b's claims match");
    assert_eq!(claims(server.all_events()).len(), 3);
}

#[test]
fn a_match_outside_the_pulled_scope_still_fails_the_rule_and_a_cut_short_pull_waits() {
    let env = TestEnv::new(23);
    let server = Rc::new(MemoryServerStore::new());
    let (a, b) = (client(&env), client(&env));
    let ea = engine(&server, ConflictPolicy::Rebase);
    // b pulls only its own account: a's claim never becomes local.
    let eb = engine_pulling(&server, scope(&["account-b"], &[]));
    claim(&a, "account-a", "ada", claimed("ada"), None).unwrap();
    claim(&b, "account-b", "ada", claimed("ada"), None).unwrap();
    drain(&ea, &a, &env);
    // A round whose pull is cut short (the request bound) settles nothing: the append
    // stays pending and the next round pushes it again.
    let short = SyncEngine::new(
        ServerTransport::new(server.clone()),
        SyncOptions { max_requests: 1, ..SyncOptions::default() },
    );
    let report = run(&short, &b, &env);
    assert_eq!((report.requests, report.conflicted), (1, 0));
    assert_eq!(block_on(b.outbox()).unwrap().len(), 1, "still pending");
    assert!(b.conflicts().is_empty());
    drain(&eb, &b, &env);
    assert_eq!(claims(server.all_events()), [json!("account-a")]);
    let conflicts = b.conflicts();
    assert_eq!(conflicts.len(), 1, "the server's match counts though b cannot pull it");
    assert_eq!(conflicts[0].local[0].data, json!("account-b"));
    assert!(conflicts[0].remote.is_empty(), "not local: outside b's scope");
    assert!(local_claims(&b).is_empty());
}
