//! Native tests of the handler: every status and header rule, idempotent retries,
//! limits, validation, odd stream ids, and property tests.

use crate::test_util::{block_on, sid};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::protocol::{feed_path, stream_path};

struct Server {
    store: MemoryServerStore,
    config: Config,
}

impl Server {
    fn new() -> Self {
        Server { store: MemoryServerStore::new(), config: Config::default() }
    }

    fn with_config(config: Config) -> Self {
        Server { store: MemoryServerStore::new(), config }
    }

    fn send(&self, request: Request) -> Response {
        block_on(handle(&self.store, &self.config, request))
    }

    fn push(&self, stream: &str, header: (&str, &str), body: &Value) -> Response {
        let path = stream_path(&self.config.base_path, &sid(stream)).unwrap();
        self.send(
            Request::new("POST", path).with_header(header.0, header.1).with_body(body.to_string()),
        )
    }

    fn get(&self, path: &str) -> Response {
        self.send(Request::new("GET", format!("{}{path}", self.config.base_path)))
    }

    fn stream(&self, stream: &str) -> String {
        stream_path("", &sid(stream)).unwrap()
    }
}

fn event(id: &str) -> Value {
    json!({"id": id, "type": "Added", "data": {"n": id}, "meta": {"by": "t"}, "recordedAt": 1700000000000u64, "schema": 1})
}

fn batch(ids: &[&str]) -> Value {
    json!({"events": ids.iter().map(|id| event(id)).collect::<Vec<_>>()})
}

const NEW: (&str, &str) = ("If-None-Match", "*");

fn at(v: u64) -> (String, String) {
    ("If-Match".to_string(), format!("\"{v}\""))
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&r.body)))
}

fn assert_error(r: &Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = json_of(r);
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

fn push_at(s: &Server, stream: &str, v: u64, ids: &[&str]) -> Response {
    let (h, val) = at(v);
    s.push(stream, (&h, &val), &batch(ids))
}

// ---------------------------------------------------------------------------------------
// Push: statuses and headers
// ---------------------------------------------------------------------------------------

#[test]
fn push_new_stream_201_with_etag_and_acks() {
    let s = Server::new();
    let r = s.push("cart-1", NEW, &batch(&["e1", "e2"]));
    assert_eq!(r.status, 201);
    assert_eq!(r.header("ETag"), Some("\"2\""));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        json_of(&r),
        json!({"version": 2, "events": [{"id":"e1","version":1,"position":1},{"id":"e2","version":2,"position":2}]})
    );
    // Positions are per space, across streams; versions per stream.
    let r = s.push("cart-2", NEW, &batch(&["f1"]));
    assert_eq!(
        json_of(&r),
        json!({"version": 1, "events": [{"id":"f1","version":1,"position":3}]})
    );
    let r = push_at(&s, "cart-1", 2, &["e3"]);
    assert_eq!(r.status, 201);
    assert_eq!(
        json_of(&r),
        json!({"version": 3, "events": [{"id":"e3","version":3,"position":4}]})
    );
    assert_eq!(r.header("etag"), Some("\"3\""));
}

#[test]
fn push_keeps_client_fields_and_server_assigns_the_rest() {
    let s = Server::new();
    let body =
        json!({"events": [{"id": "x", "type": "T", "data": [1, "two", null], "recordedAt": 42}]});
    assert_eq!(s.push("s", NEW, &body).status, 201);
    let read = json_of(&s.get("/streams/s"));
    assert_eq!(
        read["events"][0],
        json!({"id":"x","stream":"s","version":1,"position":1,"type":"T","data":[1,"two",null],"meta":null,"recordedAt":42,"schema":1})
    );
}

#[test]
fn push_412_on_stale_version_with_current_etag_and_conflict_body() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a", "b"])).status, 201);
    let r = push_at(&s, "s", 1, &["c"]);
    assert_eq!(r.status, 412);
    assert_eq!(r.header("ETag"), Some("\"2\""));
    let body = assert_error(&r, 412, "version_conflict");
    assert_eq!(body["stream"], "s");
    assert_eq!(body["expectedVersion"], 1);
    assert_eq!(body["actualVersion"], 2);
    assert_eq!(s.store.all_events().len(), 2, "a 412 writes nothing");

    // If-None-Match: * on a stream with events: expected 0.
    let body = assert_error(&s.push("s", NEW, &batch(&["d"])), 412, "version_conflict");
    assert_eq!(body["expectedVersion"], 0);
    assert_eq!(body["actualVersion"], 2);
}

#[test]
fn push_if_match_star_and_lists_and_weak_tags() {
    let s = Server::new();
    // If-Match: * needs a stream with events.
    let body =
        assert_error(&s.push("s", ("If-Match", "*"), &batch(&["a"])), 412, "version_conflict");
    assert_eq!(body["expectedVersion"], "exists");
    assert_eq!(body["actualVersion"], 0);
    // If-Match: "0" is the explicit form of "new stream".
    assert_eq!(s.push("s", ("If-Match", "\"0\""), &batch(&["a"])).status, 201);
    assert_eq!(s.push("s", ("If-Match", "*"), &batch(&["b"])).status, 201);
    // Strong comparison: a weak tag never matches.
    let body = assert_error(
        &s.push("s", ("If-Match", "W/\"2\""), &batch(&["c"])),
        412,
        "version_conflict",
    );
    assert_eq!(body["expectedVersion"], "If-Match: W/\"2\"");
    // A list matches when any tag does.
    assert_eq!(s.push("s", ("If-Match", "\"7\", \"2\""), &batch(&["c"])).status, 201);
    // If-None-Match with a tag list on a push: fails when the current tag is listed.
    assert_error(
        &s.push("s", ("If-None-Match", "W/\"3\""), &batch(&["d"])),
        412,
        "version_conflict",
    );
    assert_eq!(s.push("s", ("If-None-Match", "\"1\""), &batch(&["d"])).status, 201);
}

#[test]
fn push_with_both_headers_evaluates_if_match_then_if_none_match() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a"])).status, 201);
    let req = |ids: &[&str], m: &str, n: &str| {
        Request::new("POST", "/streams/s")
            .with_header("If-Match", m)
            .with_header("If-None-Match", n)
            .with_body(batch(ids).to_string())
    };
    assert_error(&s.send(req(&["b"], "\"1\"", "\"1\"")), 412, "version_conflict");
    assert_error(&s.send(req(&["b"], "\"0\"", "\"5\"")), 412, "version_conflict");
    assert_eq!(s.send(req(&["b"], "\"1\"", "\"5\"")).status, 201);
}

#[test]
fn push_without_precondition_is_428_and_malformed_is_400() {
    let s = Server::new();
    let r = s.send(Request::new("POST", "/streams/s").with_body(batch(&["a"]).to_string()));
    assert_error(&r, 428, "precondition_required");
    for bad in ["", "7", "\"7", "*, \"1\"", "w/\"1\"", "\"1\" \"2\""] {
        let r = s.push("s", ("If-Match", bad), &batch(&["a"]));
        let body = assert_error(&r, 400, "bad_precondition");
        assert!(body["message"].as_str().unwrap().contains("If-Match"), "{body}");
        let r = s.push("s", ("If-None-Match", bad), &batch(&["a"]));
        let body = assert_error(&r, 400, "bad_precondition");
        assert!(body["message"].as_str().unwrap().contains("If-None-Match"), "{body}");
    }
    assert!(s.store.all_events().is_empty());
}

// ---------------------------------------------------------------------------------------
// Idempotent retries
// ---------------------------------------------------------------------------------------

#[test]
fn retry_with_the_old_precondition_is_200_with_the_same_answer() {
    let s = Server::new();
    let first = s.push("s", NEW, &batch(&["a", "b"]));
    assert_eq!(first.status, 201);
    let retry = s.push("s", NEW, &batch(&["a", "b"]));
    assert_eq!(retry.status, 200, "never a false 412");
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("ETag"), first.header("ETag"));

    // The stream moves on; retrying the first batch (old If-None-Match: *) and the
    // second (old If-Match: "2") still answers what they originally got.
    let second = push_at(&s, "s", 2, &["c"]);
    assert_eq!(second.status, 201);
    assert_eq!(push_at(&s, "s", 3, &["d"]).status, 201);
    let retry1 = s.push("s", NEW, &batch(&["a", "b"]));
    assert_eq!((retry1.status, &retry1.body), (200, &first.body));
    assert_eq!(retry1.header("ETag"), Some("\"2\""));
    let retry2 = push_at(&s, "s", 2, &["c"]);
    assert_eq!((retry2.status, &retry2.body), (200, &second.body));
    // Any precondition, even a nonsensical one, does not turn a retry into a 412.
    assert_eq!(push_at(&s, "s", 99, &["c"]).status, 200);
    assert_eq!(s.push("s", ("If-Match", "*"), &batch(&["a", "b"])).status, 200);
    assert_eq!(s.store.all_events().len(), 4, "never a duplicate");
}

#[test]
fn retry_of_a_sub_batch_answers_its_stored_versions() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a", "b", "c"])).status, 201);
    let r = s.push("s", NEW, &batch(&["b", "c"]));
    assert_eq!(r.status, 200);
    assert_eq!(
        json_of(&r),
        json!({"version": 3, "events": [{"id":"b","version":2,"position":2},{"id":"c","version":3,"position":3}]})
    );
}

#[test]
fn mixing_stored_and_new_ids_is_409_partial_retry() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a", "b"])).status, 201);
    for ids in [&["a", "b", "c"][..], &["c", "a"][..]] {
        let body = assert_error(&s.push("s", NEW, &batch(ids)), 409, "partial_retry");
        assert!(body["message"].as_str().unwrap().contains("\"a\""), "{body}");
        let body = assert_error(&push_at(&s, "s", 2, ids), 409, "partial_retry");
        assert!(body["message"].as_str().unwrap().contains("already stored"), "{body}");
    }
    assert_eq!(s.store.all_events().len(), 2);
}

#[test]
fn an_id_stored_in_another_stream_or_with_other_content_is_409_id_conflict() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a"])).status, 201);
    let body = assert_error(&s.push("t", NEW, &batch(&["a"])), 409, "id_conflict");
    assert!(body["message"].as_str().unwrap().contains("another stream"), "{body}");
    // Same id, same stream, different data: not a retry.
    let other = json!({"events": [{"id": "a", "type": "Added", "data": {"n": "changed"}, "recordedAt": 1}]});
    let body = assert_error(&s.push("s", NEW, &other), 409, "id_conflict");
    assert!(body["message"].as_str().unwrap().contains("different content"), "{body}");
    assert_eq!(s.store.all_events().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Validation and limits
// ---------------------------------------------------------------------------------------

#[test]
fn bad_json_is_400_and_wrong_shapes_are_422() {
    let s = Server::new();
    let send = |body: &[u8]| {
        s.send(
            Request::new("POST", "/streams/s")
                .with_header("If-None-Match", "*")
                .with_body(body.to_vec()),
        )
    };
    for bad in
        [&b""[..], b"{", b"{\"events\": [}", b"nul", b"\xff\xfe", b"{\"events\":[]} trailing"]
    {
        assert_error(&send(bad), 400, "bad_json");
    }
    let shapes = [
        json!([]),
        json!({}),
        json!({"events": {}}),
        json!({"events": [1]}),
        json!({"events": [{"type": "T", "data": 1, "recordedAt": 1}]}),
        json!({"events": [{"id": "", "type": "T", "data": 1, "recordedAt": 1}]}),
        json!({"events": [{"id": "a", "type": "", "data": 1, "recordedAt": 1}]}),
        json!({"events": [{"id": "a\n", "type": "T", "data": 1, "recordedAt": 1}]}),
        json!({"events": [{"id": "a", "type": "T", "data": 1}]}),
        json!({"events": [{"id": "a", "type": "T", "data": 1, "recordedAt": -1}]}),
        json!({"events": [{"id": "a", "type": "T", "data": 1, "recordedAt": 1.5}]}),
        json!({"events": [{"id": "a", "type": "T", "data": 1, "recordedAt": 1, "schema": "1"}]}),
        json!({"events": [{"id": 7, "type": "T", "data": 1, "recordedAt": 1}]}),
    ];
    for shape in shapes {
        assert_error(&send(shape.to_string().as_bytes()), 422, "invalid_event");
    }
    let body = assert_error(
        &send(br#"{"events":[{"id":"","type":"T","data":1,"recordedAt":1}]}"#),
        422,
        "invalid_event",
    );
    assert!(body["message"].as_str().unwrap().contains("invalid id: must not be empty"), "{body}");
    let too_late =
        json!({"events": [{"id": "a", "type": "T", "data": 1, "recordedAt": 9007199254740992u64}]});
    assert_error(&send(too_late.to_string().as_bytes()), 422, "invalid_event");
    assert_error(&send(b"{\"events\":[]}"), 422, "empty_batch");
    let body =
        assert_error(&send(batch(&["a", "b", "a"]).to_string().as_bytes()), 422, "duplicate_id");
    assert!(body["message"].as_str().unwrap().contains("events[2]"), "{body}");
    // Unknown fields are ignored, data may be any JSON value, meta may be absent.
    let ok = json!({"events": [{"id": "a", "type": "T", "data": null, "recordedAt": 1, "extra": true}], "x": 1});
    assert_eq!(send(ok.to_string().as_bytes()).status, 201);
    assert_eq!(s.store.all_events().len(), 1);
}

#[test]
fn limits_413_and_422() {
    let s = Server::with_config(Config {
        max_body_bytes: 600,
        max_batch_events: 3,
        max_event_bytes: 400,
        ..Config::default()
    });
    let r = s.push("s", NEW, &json!({"events": [], "pad": "x".repeat(600)}));
    assert_error(&r, 413, "body_too_large");
    let r = s.push("s", NEW, &batch(&["a", "b", "c", "d"]));
    let body = assert_error(&r, 413, "batch_too_large");
    assert!(body["message"].as_str().unwrap().contains("limit is 3"), "{body}");
    let big =
        json!({"events": [{"id": "a", "type": "T", "data": "y".repeat(300), "recordedAt": 1}]});
    assert_error(&s.push("s", NEW, &big), 422, "event_too_large");
    assert_eq!(s.push("s", NEW, &batch(&["a", "b", "c"])).status, 201);
    // The body limit is checked before anything else, even without a precondition.
    let r = s.send(Request::new("POST", "/streams/s").with_body(vec![b' '; 601]));
    assert_error(&r, 413, "body_too_large");

    let defaults = Config::default();
    assert_eq!((defaults.max_body_bytes, defaults.max_batch_events), (1 << 20, 100));
    assert!(defaults.max_event_bytes < 128 * 1024);
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

#[test]
fn empty_stream_reads_200_with_etag_0() {
    let s = Server::new();
    let r = s.get("/streams/nothing-here");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ETag"), Some("\"0\""));
    assert_eq!(r.header("Cache-Control"), Some("no-cache"));
    assert_eq!(json_of(&r), json!({"version": 0, "events": []}));
    let r = s.get("/events");
    assert_eq!((r.status, r.header("ETag")), (200, Some("\"0\"")));
    assert_eq!(json_of(&r), json!({"head": 0, "events": []}));
}

#[test]
fn stream_reads_after_and_limit() {
    let s = Server::with_config(Config { max_read_limit: 3, ..Config::default() });
    assert_eq!(s.push("s", NEW, &batch(&["a", "b", "c", "d", "e"])).status, 201);
    assert_eq!(s.push("t", NEW, &batch(&["x"])).status, 201);
    let ids = |r: &Response| -> Vec<String> {
        json_of(r)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let r = s.get("/streams/s?after=1&limit=2");
    assert_eq!(ids(&r), ["b", "c"]);
    assert_eq!(json_of(&r)["version"], 5);
    assert_eq!(r.header("ETag"), Some("\"5\""));
    assert_eq!(ids(&s.get("/streams/s")), ["a", "b", "c"], "clamped to max_read_limit");
    assert_eq!(ids(&s.get("/streams/s?limit=1000")), ["a", "b", "c"]);
    assert_eq!(ids(&s.get("/streams/s?after=4")), ["e"]);
    assert!(ids(&s.get("/streams/s?after=9")).is_empty());
    let r = s.get("/events?after=4&limit=9");
    assert_eq!(ids(&r), ["e", "x"]);
    assert_eq!(json_of(&r)["head"], 6);
    assert_eq!(r.header("ETag"), Some("\"6\""));
    assert_eq!(json_of(&s.get("/events?after=5"))["events"][0]["stream"], "t");
    for bad in ["?after=x", "?limit=0", "?after=-1", "?after=1&after=2", "?limit=1e3"] {
        assert_error(&s.get(&format!("/streams/s{bad}")), 400, "bad_query");
        assert_error(&s.get(&format!("/events{bad}")), 400, "bad_query");
    }
}

#[test]
fn if_none_match_gives_304_without_body() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a", "b"])).status, 201);
    let get =
        |path: &str, inm: &str| s.send(Request::new("GET", path).with_header("If-None-Match", inm));
    for (path, tag) in [("/streams/s", "2"), ("/events", "2")] {
        for inm in [
            format!("\"{tag}\""),
            format!("W/\"{tag}\""),
            format!("\"1\", \"{tag}\""),
            "*".to_string(),
        ] {
            let r = get(path, &inm);
            assert_eq!(r.status, 304, "{path} {inm}");
            assert!(r.body.is_empty());
            assert_eq!(r.header("ETag"), Some(format!("\"{tag}\"").as_str()));
            assert_eq!(r.header("Content-Type"), None);
        }
        assert_eq!(get(path, "\"1\"").status, 200);
        assert_error(&get(path, "1"), 400, "bad_precondition");
    }
    // An empty stream: "0" is current (304); * means "has events" (200).
    assert_eq!(get("/streams/empty", "\"0\"").status, 304);
    assert_eq!(get("/streams/empty", "*").status, 200);
    // Repeated header fields combine into one list.
    let r = s.send(
        Request::new("GET", "/streams/s")
            .with_header("if-none-match", "\"1\"")
            .with_header("IF-NONE-MATCH", "\"2\""),
    );
    assert_eq!(r.status, 304);
}

fn positions(r: &Response) -> Vec<u64> {
    json_of(r)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect()
}

fn get_if_none_match(s: &Server, path: &str, tag: u64) -> Response {
    s.send(Request::new("GET", path).with_header("If-None-Match", format!("\"{tag}\"")))
}

#[test]
fn a_filtered_feed_serves_only_its_scope_with_its_own_etag_and_304() {
    let s = Server::new();
    push_at(&s, "cart-1", 0, &["c1"]); // position 1
    push_at(&s, "order-1", 0, &["o1", "o2"]); // 2, 3
    push_at(&s, "cart-2", 0, &["c2"]); // 4
    push_at(&s, "a b/c", 0, &["x1"]); // 5
    let r = s.get("/events?prefix=cart-");
    assert_eq!(r.status, 200);
    assert_eq!(positions(&r), [1, 4]);
    let body = json_of(&r);
    assert_eq!((body["head"].as_u64(), body["through"].as_u64()), (Some(5), Some(5)));
    assert_eq!(r.header("etag"), Some("\"5\""), "the tag is where the search stopped");
    // Streams by id (percent-encoded), prefixes, together; repeats are one.
    let r = s.get("/events?stream=a%20b%2Fc&stream=order-1&prefix=cart-2&stream=order-1");
    assert_eq!(positions(&r), [2, 3, 4, 5]);
    // Nothing in scope after the cursor: 304 to If-None-Match "<after>", whatever else
    // the feed gained.
    push_at(&s, "order-1", 2, &["o3"]); // 6
    let r = get_if_none_match(&s, "/events?after=5&prefix=cart-", 5);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some("\"5\""));
    assert!(r.body.is_empty());
    // Without the precondition: 200, no events, `through` the head, ETag still `after`.
    let r = s.get("/events?after=5&prefix=cart-");
    assert_eq!((r.status, positions(&r).len()), (200, 0));
    assert_eq!(json_of(&r)["through"], 6);
    assert_eq!(r.header("etag"), Some("\"5\""));
    // Something in scope: 200 with it.
    push_at(&s, "cart-1", 1, &["c3"]); // 7
    push_at(&s, "order-1", 3, &["o4"]); // 8
    let r = get_if_none_match(&s, "/events?after=5&prefix=cart-", 5);
    assert_eq!(r.status, 200);
    assert_eq!(positions(&r), [7]);
    assert_eq!(json_of(&r)["through"], 8);
    assert_eq!(r.header("etag"), Some("\"8\""));
    // The unfiltered feed is unchanged: no `through`.
    let body = json_of(&s.get("/events?after=7"));
    assert!(body.get("through").is_none(), "{body}");
    assert_eq!(body["head"], 8);
    // HEAD: the same headers, no body.
    let r = s.send(Request::new("HEAD", "/events?prefix=cart-"));
    assert_eq!((r.status, r.header("etag")), (200, Some("\"8\"")));
    assert!(r.body.is_empty());
}

#[test]
fn a_filtered_feed_pages_by_limit_and_bounds_its_search() {
    let s =
        Server::with_config(Config { max_read_limit: 2, max_filter_scan: 3, ..Config::default() });
    for (i, stream) in ["o", "c", "o", "o", "o", "c", "c"].iter().enumerate() {
        let v = json_of(&s.get(&format!("/streams/{stream}")))["version"].as_u64().unwrap();
        push_at(&s, stream, v, &[&format!("e{i}")]);
    }
    // Feed: o1 c2 o3 o4 o5 c6 c7. The search stops after 3 events: through 3.
    let r = s.get("/events?stream=c");
    assert_eq!((positions(&r), json_of(&r)["through"].as_u64()), (vec![2], Some(3)));
    // An empty stretch longer than the bound: 200 with no events and `through` moved on,
    // so the client's next poll searches from there (never 304: the tag is `through`).
    let r = get_if_none_match(&s, "/events?after=2&stream=c", 2);
    assert_eq!((r.status, positions(&r).len()), (200, 0));
    assert_eq!((json_of(&r)["through"].as_u64(), r.header("etag")), (Some(5), Some("\"5\"")));
    // `limit` matching events: through is the last one returned.
    let r = s.get("/events?after=5&stream=c&limit=1");
    assert_eq!((positions(&r), json_of(&r)["through"].as_u64()), (vec![6], Some(6)));
}

#[test]
fn bad_filters_are_400_bad_query() {
    let s = Server::new();
    for query in ["stream=", "prefix=%zz", "stream=a%00b", "prefix=%FF"] {
        assert_error(&s.get(&format!("/events?{query}")), 400, "bad_query");
    }
    let many: Vec<String> = (0..101).map(|i| format!("stream=s{i}")).collect();
    assert_error(&s.get(&format!("/events?{}", many.join("&"))), 400, "bad_query");
    // Filters are a feed thing: a stream read ignores them, like any unknown parameter.
    assert_eq!(s.get("/streams/a?prefix=%zz").status, 200);
}

#[test]
fn if_match_on_reads_is_412_when_it_fails() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a"])).status, 201);
    let r = s.send(Request::new("GET", "/streams/s").with_header("If-Match", "\"0\""));
    assert_error(&r, 412, "precondition_failed");
    assert_eq!(r.header("ETag"), Some("\"1\""));
    let r = s.send(Request::new("GET", "/streams/s").with_header("If-Match", "\"1\""));
    assert_eq!(r.status, 200);
    let r = s.send(Request::new("GET", "/events").with_header("If-Match", "W/\"1\""));
    assert_error(&r, 412, "precondition_failed");
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let s = Server::new();
    assert_eq!(s.push("s", NEW, &batch(&["a"])).status, 201);
    for path in ["/streams/s", "/events", "/streams/empty"] {
        let get = s.send(Request::new("GET", path));
        let head = s.send(Request::new("HEAD", path));
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty() && !get.body.is_empty());
        assert_eq!(head.headers, get.headers);
    }
    let r = s.send(Request::new("HEAD", "/streams/s").with_header("If-None-Match", "\"1\""));
    assert_eq!((r.status, r.body.len()), (304, 0));
}

// ---------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------

#[test]
fn wrong_methods_are_405_with_allow_and_options_is_204() {
    let s = Server::new();
    for method in ["PUT", "DELETE", "PATCH", "get"] {
        let r = s.send(Request::new(method, "/streams/s"));
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(r.header("Allow"), Some("GET, HEAD, POST, OPTIONS"));
    }
    let r = s.send(Request::new("POST", "/events").with_header("If-None-Match", "*"));
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("Allow"), Some("GET, HEAD, OPTIONS"));
    let r = s.send(Request::new("OPTIONS", "/streams/s"));
    assert_eq!((r.status, r.header("Allow")), (204, Some("GET, HEAD, POST, OPTIONS")));
    let r = s.send(Request::new("OPTIONS", "/events"));
    assert_eq!((r.status, r.header("Allow")), (204, Some("GET, HEAD, OPTIONS")));
}

#[test]
fn unknown_paths_are_404_and_bad_stream_segments_400() {
    let s = Server::new();
    for path in [
        "",
        "/",
        "/streams",
        "/streams/",
        "/streams/a/b",
        "/events/",
        "/events/x",
        "/stream/a",
        "//events",
        "/streams/../events",
    ] {
        assert_error(&s.send(Request::new("GET", path)), 404, "not_found");
    }
    for path in [
        "/streams/%ZZ",
        "/streams/%",
        "/streams/..",
        "/streams/.",
        "/streams/%2E%2E",
        "/streams/a%00",
        "/streams/%FF",
    ] {
        assert_error(&s.send(Request::new("GET", path)), 400, "bad_stream");
    }
    let long = format!("/streams/{}", "x".repeat(257));
    let body = assert_error(&s.send(Request::new("GET", long)), 400, "bad_stream");
    assert!(body["message"].as_str().unwrap().contains("257 bytes"), "{body}");
}

#[test]
fn base_path_is_matched_on_a_segment_boundary() {
    for base in ["/v1/space", "/v1/space/"] {
        let s = Server::with_config(Config { base_path: base.to_string(), ..Config::default() });
        assert_eq!(s.send(Request::new("GET", "/v1/space/events")).status, 200);
        assert_eq!(s.send(Request::new("GET", "/v1/space/streams/a?after=0")).status, 200);
        assert_error(&s.send(Request::new("GET", "/v1/spacex/events")), 404, "not_found");
        assert_error(&s.send(Request::new("GET", "/events")), 404, "not_found");
        assert_error(&s.send(Request::new("GET", "/v1/space")), 404, "not_found");
        let path = stream_path(base, &sid("a b")).unwrap();
        let r = s.send(
            Request::new("POST", path)
                .with_header("If-None-Match", "*")
                .with_body(batch(&["e"]).to_string()),
        );
        assert_eq!(r.status, 201);
        assert_eq!(
            json_of(&s.send(Request::new("GET", feed_path(base))))["events"][0]["stream"],
            "a b"
        );
    }
}

#[test]
fn odd_stream_ids_stay_one_stream() {
    let s = Server::new();
    let odd = [
        "a b",
        "a/b",
        "a%2Fb",
        "%",
        "100%",
        "🛒 ünïcødé",
        "../etc/passwd",
        "...",
        "a/../b",
        "?x=1#y",
        "+plus+",
        "~tilde~",
        "\"quoted\"",
    ];
    for (i, name) in odd.iter().enumerate() {
        let id = format!("e{i}");
        let r = s.push(name, NEW, &batch(&[&id]));
        assert_eq!(r.status, 201, "{name}");
        let read = json_of(&s.get(&s.stream(name)));
        assert_eq!(read["version"], 1, "{name}");
        assert_eq!(read["events"][0]["stream"], *name);
        assert_eq!(read["events"][0]["id"], id.as_str());
    }
    // Every odd id is its own stream: nothing was merged or escaped into another.
    assert_eq!(json_of(&s.get("/events"))["head"], odd.len());
    assert_eq!(json_of(&s.get("/streams/a"))["version"], 0);
    assert_eq!(json_of(&s.get("/streams/etc%2Fpasswd"))["version"], 0);
    // A raw slash is another path, not the stream "a/b".
    assert_error(&s.get("/streams/a/b"), 404, "not_found");
    // Lower-case percent-encoding and raw sub-delims decode to the same stream.
    assert_eq!(json_of(&s.get("/streams/a%2fb"))["version"], 1);
    assert_eq!(json_of(&s.get("/streams/%2Bplus%2B"))["version"], 1);
    // The dot-segments cannot be addressed at all.
    assert!(stream_path("", &sid("..")).is_err());
}

// ---------------------------------------------------------------------------------------
// Failures and helpers
// ---------------------------------------------------------------------------------------

#[test]
fn storage_failures_are_500_and_quota_507() {
    let s = Server::new();
    s.store.fail_with(Some(Error::storage("IoError", "disk on fire")));
    let body = assert_error(&s.push("s", NEW, &batch(&["a"])), 500, "storage_error");
    assert!(body["message"].as_str().unwrap().contains("disk on fire"));
    assert_error(&s.get("/streams/s"), 500, "storage_error");
    assert_error(&s.get("/events"), 500, "storage_error");
    s.store.fail_with(Some(Error::QuotaExceeded { message: "full".into() }));
    assert_error(&s.push("s", NEW, &batch(&["a"])), 507, "quota_exceeded");
    s.store.fail_with(None);
    assert_eq!(s.push("s", NEW, &batch(&["a"])).status, 201);
}

#[test]
fn response_helpers() {
    let r = Response::error(429, "rate_limited", "slow down").with_retry_after(30);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(json_of(&r), json!({"error": "rate_limited", "message": "slow down"}));
    let req = Request::new("GET", "/x").with_header("A", "1").with_header("a", "2");
    assert_eq!(req.header("A").as_deref(), Some("1, 2"));
    assert_eq!(req.header("B"), None);
}

/// A store whose every append loses a race: the handler re-decides, then gives up with
/// 503 and Retry-After rather than looping or writing twice.
struct AlwaysRacing(MemoryServerStore);

impl ServerStore for AlwaysRacing {
    async fn stream_version(&self, stream: &StreamId) -> crate::Result<Version> {
        self.0.stream_version(stream).await
    }
    async fn events_by_id(
        &self,
        ids: &[crate::EventId],
    ) -> crate::Result<Vec<Option<ServerEvent>>> {
        self.0.events_by_id(ids).await
    }
    async fn append(
        &self,
        _: &StreamId,
        _: Version,
        _: &[PushEvent<Value>],
    ) -> crate::Result<AppendOutcome> {
        Ok(AppendOutcome::VersionMoved(Version(9)))
    }
    async fn read_stream(
        &self,
        s: &StreamId,
        a: Version,
        l: usize,
    ) -> crate::Result<(Version, Vec<ServerEvent>)> {
        self.0.read_stream(s, a, l).await
    }
    async fn read_feed(
        &self,
        a: Position,
        l: usize,
    ) -> crate::Result<(Position, Vec<ServerEvent>)> {
        self.0.read_feed(a, l).await
    }
}

#[test]
fn a_lost_append_race_is_retried_then_503() {
    let store = AlwaysRacing(MemoryServerStore::new());
    let request = Request::new("POST", "/streams/s")
        .with_header("If-None-Match", "*")
        .with_body(batch(&["a"]).to_string());
    let r = block_on(handle(&store, &Config::default(), request));
    assert_error(&r, 503, "busy");
    assert_eq!(r.header("Retry-After"), Some("1"));
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// A request of the property test: (stream index, precondition header, body, the body
/// of its first 2xx answer).
type Sent = (usize, (String, String), Value, Option<Vec<u8>>);

#[derive(Clone, Debug)]
enum Op {
    /// A new batch of `n` events on stream `s`, built on the client's view of the stream
    /// minus `stale` versions (stale views make 412s).
    Push { s: usize, n: usize, stale: u64 },
    /// Re-send an earlier request exactly (same ids, same old precondition).
    Retry(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..3, 1usize..4, prop_oneof![3 => Just(0u64), 1 => 1u64..3]).prop_map(|(s, n, stale)| Op::Push { s, n, stale }),
        2 => any::<prop::sample::Index>().prop_map(Op::Retry),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn interleaved_pushes_and_retries_never_duplicate(ops in proptest::collection::vec(op(), 1..40)) {
        let s = Server::new();
        let streams = ["a", "b/c", "d ..%"];
        // Every request sent: (stream, header, body, first 2xx answer body).
        let mut sent: Vec<Sent> = Vec::new();
        let mut next_id = 0;
        for op in ops {
            let index = match op {
                Op::Push { s: si, n, stale } => {
                    let known = json_of(&s.get(&s.stream(streams[si])))["version"].as_u64().unwrap();
                    let base = known.saturating_sub(stale);
                    let header = if base == 0 && stale % 2 == 0 {
                        ("If-None-Match".to_string(), "*".to_string())
                    } else {
                        at(base)
                    };
                    let ids: Vec<String> = (0..n).map(|_| { next_id += 1; format!("id-{next_id}") }).collect();
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    sent.push((si, header, batch(&refs), None));
                    sent.len() - 1
                }
                Op::Retry(pick) => {
                    if sent.is_empty() { continue; }
                    pick.index(sent.len())
                }
            };
            let (si, header, body, first_ok) = &mut sent[index];
            let r = s.push(streams[*si], (&header.0, &header.1), body);
            match (r.status, first_ok.as_ref()) {
                (201, None) => *first_ok = Some(r.body.clone()),
                (200, Some(original)) => prop_assert_eq!(&r.body, original, "a retry answers what the push got"),
                (412, None) => {}
                (status, original) => prop_assert!(
                    false, "status {} for a batch previously answered {:?}", status, original.map(|b| String::from_utf8_lossy(b).to_string())
                ),
            }
        }
        // Invariants of the stored log.
        let all = s.store.all_events();
        let mut ids = std::collections::HashSet::new();
        for (i, e) in all.iter().enumerate() {
            prop_assert!(ids.insert(e.id.clone()), "{:?} stored twice", e.id);
            prop_assert_eq!(e.position.0, i as u64 + 1, "positions contiguous");
        }
        for name in streams {
            let versions: Vec<u64> = all.iter().filter(|e| e.stream.as_str() == name).map(|e| e.version.0).collect();
            let expected: Vec<u64> = (1..=versions.len() as u64).collect();
            prop_assert_eq!(versions, expected, "versions of {} contiguous", name);
        }
        // Every acknowledged batch is stored exactly once, as acknowledged.
        let acked: usize = sent.iter().filter_map(|(_, _, b, ok)| ok.as_ref().map(|_| b["events"].as_array().unwrap().len())).sum();
        prop_assert_eq!(acked, all.len());
    }

    #[test]
    fn handler_never_panics_on_arbitrary_requests(
        method in prop_oneof![Just("GET".to_string()), Just("POST".to_string()), Just("HEAD".to_string()), "[A-Z]{1,7}"],
        path in r"(/streams/|/events|/)[ -~\x{80}-\x{10FFFF}]{0,40}",
        inm in proptest::option::of(any::<String>()),
        im in proptest::option::of(r#"[ ,*W/"0-9]{0,12}"#),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let s = Server::new();
        let mut request = Request::new(method, path).with_body(body);
        if let Some(v) = inm { request = request.with_header("If-None-Match", v); }
        if let Some(v) = im { request = request.with_header("If-Match", v); }
        let r = s.send(request);
        prop_assert!((200..600).contains(&r.status));
        if r.status >= 400 {
            let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
            prop_assert!(!body.error.is_empty());
        }
    }
}

#[test]
fn tags_are_stored_and_served_and_bad_tags_are_422() {
    let s = Server::new();
    let mut tagged = event("t-1");
    tagged["tags"] = json!(["username:ada", "account:1"]);
    let r = s.push("account-1", NEW, &json!({"events": [tagged, event("t-2")]}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let feed = json_of(&s.get(&feed_path("")));
    assert_eq!(feed["events"][0]["tags"], json!(["username:ada", "account:1"]));
    assert!(feed["events"][1].get("tags").is_none(), "no tags: the key is left out");
    let stream = json_of(&s.get(&s.stream("account-1")));
    assert_eq!(stream["events"][0]["tags"], json!(["username:ada", "account:1"]));
    for bad in [json!(["a", "a"]), json!([""]), json!(["a\u{1}"]), json!([1]), json!("a")] {
        let mut e = event("t-bad");
        e["tags"] = bad.clone();
        let r = s.push("account-2", NEW, &json!({"events": [e]}));
        assert!(r.status == 422 || r.status == 400, "{bad}: {}", r.status);
    }
    let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    let mut e = event("t-many");
    e["tags"] = json!(many);
    assert_error(&s.push("account-2", NEW, &json!({"events": [e]})), 422, "invalid_event");
    assert_eq!(json_of(&s.get(&feed_path("")))["events"].as_array().unwrap().len(), 2);
    // A retry must carry the same tags: other tags are other content.
    let mut retry = event("t-1");
    retry["tags"] = json!(["username:bob"]);
    assert_error(&s.push("account-1", NEW, &json!({"events": [retry]})), 409, "id_conflict");
}

/// A claim of `username` (id `id`) tagged for the unique-username rule.
fn claim(id: &str, username: &str) -> Value {
    let mut e = event(id);
    e["type"] = json!("UsernameClaimed");
    e["tags"] = json!([format!("username:{username}")]);
    e
}

fn unique(username: &str, after: u64, known: &[&str]) -> Value {
    json!({"failIfEventsMatch": [{"types": ["UsernameClaimed"], "tags": [format!("username:{username}")]}],
           "after": after, "known": known})
}

#[test]
fn a_pushed_condition_is_checked_again_against_the_feed() {
    let s = Server::new();
    // Device A, online first: its claim is stored at position 1.
    let mut first = unique("ada", 0, &[]);
    first["event"] = json!(0);
    let r =
        s.push("account-a", NEW, &json!({"events": [claim("a-1", "ada")], "conditions": [first]}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    // Device B decided offline at feed position 0: its claim is refused, naming A's.
    let mut second = unique("ada", 0, &[]);
    second["event"] = json!(1);
    let body =
        json!({"events": [event("b-0"), claim("b-1", "ada")], "conditions": [second.clone()]});
    let refused = assert_error(&s.push("account-b", NEW, &body), 412, "condition_failed");
    assert_eq!(refused["condition"], 0);
    assert_eq!(refused["stream"], "account-b");
    assert_eq!(refused["event"]["id"], "a-1");
    assert_eq!(refused["event"]["position"], 1);
    assert_eq!(refused["event"]["tags"], json!(["username:ada"]));
    assert_eq!(
        json_of(&s.get(&feed_path("")))["events"].as_array().unwrap().len(),
        1,
        "nothing written"
    );
    // Decided after having pulled position 1: no violation (a release would have come after).
    second["after"] = json!(1);
    let later = json!({"events": [claim("b-2", "bob")], "conditions": [{"event": 0,
        "failIfEventsMatch": [{"tags": ["username:bob"]}], "after": 1}]});
    assert_eq!(s.push("account-b", NEW, &later).status, 201);
    // The device's own pending events that its decision saw do not count.
    let own = json!({"events": [claim("c-1", "carl")], "conditions": [{"event": 0,
        "failIfEventsMatch": [{"tags": ["username:ada"]}, {"tags": ["username:bob"]}], "after": 0,
        "known": ["a-1", "b-2"]}]});
    assert_eq!(s.push("account-c", NEW, &own).status, 201);
    // Other queries and bad conditions.
    let other = json!({"events": [claim("d-1", "dan")], "conditions": [{"event": 0,
        "failIfEventsMatch": "all", "after": 2}]});
    let all = assert_error(&s.push("account-d", NEW, &other), 412, "condition_failed");
    assert_eq!(all["event"]["position"], 3);
    for bad in [
        json!({"event": 5, "failIfEventsMatch": "all", "after": 0}),
        json!({"event": 0, "failIfEventsMatch": [{}], "after": 0}),
        json!({"event": 0, "failIfEventsMatch": "all", "after": -1}),
        json!({"event": 0, "failIfEventsMatch": "all", "after": 0, "extra": 1}),
    ] {
        let body = json!({"events": [claim("e-1", "eve")], "conditions": [bad.clone()]});
        assert_error(&s.push("account-e", NEW, &body), 422, "invalid_event");
    }
}
