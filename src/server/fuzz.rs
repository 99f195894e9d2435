//! Fuzzing at volume with proptest (no cargo-fuzz toolchain needed): the protocol request
//! parser ([`handle`] with arbitrary method, path, headers and body, over both server
//! stores), the ETag/precondition parser, and the event decoder (the stored/served
//! event JSON, and a Durable Object value corrupted under the server).
//!
//! Properties: never a panic; never a 5xx from valid storage; every error is a JSON
//! `{error, message}`; an error writes nothing; a parsed precondition or event prints
//! back to itself. `cargo test` runs 1 000 cases per target; `make soak` runs
//! `FUZZ_CASES` (100 000 by default) through the ignored `fuzz_at_volume`.

use crate::test_util::block_on;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{json, Value};

use super::*;
use crate::protocol::{EntityTag, Precondition};

/// Statuses the handler may answer with over working storage.
const KNOWN: [u16; 14] = [200, 201, 204, 304, 400, 404, 405, 409, 412, 413, 415, 422, 428, 431];

fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9._~%/!*'()\\-]{0,40}",
        proptest::sample::select(vec![
            "..",
            "%2e%2e",
            "%2F",
            "%2f..%2f",
            "%00",
            "a%00b",
            "%",
            "%zz",
            "%C3%28",
            "%ED%A0%80",
            "a/b",
            "/",
            "\u{0}",
            "\u{7f}",
            "\u{202e}",
            "💥",
            "%F0%9F%92%A5",
            "streams",
            "events",
            "?",
            "#",
            "\\",
            ";",
        ])
        .prop_map(String::from),
        "[a-z]{1,3}".prop_map(|s| s.repeat(400)),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(W/)?\"[0-9]{0,3}\"",
        "[\"W/*, \t0-9a-z]{0,12}",
        proptest::sample::select(vec![
            "*",
            "\"0\"",
            "\"1\"",
            "W/\"1\"",
            "\"1\", \"2\"",
            "*, \"1\"",
            "\"",
            "\"\u{7f}\"",
            ""
        ])
        .prop_map(String::from),
    ]
}

fn event_json() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        Just(json!("e1")),
        Just(json!("e2")),
        nasty_text().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null)
    ];
    let kind =
        prop_oneof![Just(json!("Added")), nasty_text().prop_map(Value::from), Just(json!(""))];
    let number = prop_oneof![
        Just(json!(1_700_000_000_000u64)),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!("1"))
    ];
    (id, kind, number.clone(), number, any::<bool>()).prop_map(|(id, kind, at, schema, meta)| {
        let mut e =
            json!({"id": id, "type": kind, "data": {"x": 1}, "recordedAt": at, "schema": schema});
        if meta {
            e["meta"] = json!({"by": "fuzz"});
        }
        e
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<String>().prop_map(String::into_bytes),
        proptest::collection::vec(event_json(), 0..4).prop_map(|events| json!({"events": events}).to_string().into_bytes()),
        proptest::collection::vec(event_json(), 1..3).prop_map(|events| json!(events).to_string().into_bytes()),
        Just(b"{\"events\": [".repeat(300)),
        Just(b"{\"events\": null}".to_vec()),
        Just(b"{\"events\": {}}".to_vec()),
        (1usize..3).prop_map(|n| json!({"events": (0..101 * n).map(|i| json!({"id": format!("b{i}"), "type": "T", "data": i, "recordedAt": 1})).collect::<Vec<_>>()}).to_string().into_bytes()),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let method = prop_oneof![
        proptest::sample::select(vec![
            "GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "get", "PATCH"
        ])
        .prop_map(String::from),
        any::<String>(),
    ];
    let path = (
        proptest::sample::select(vec![
            "/streams/",
            "/events",
            "/",
            "",
            "//streams/",
            "/streams",
            "/v1/x/streams/",
        ]),
        nasty_text(),
        proptest::option::of(prop_oneof![
            any::<String>(),
            "after=[0-9-]{0,25}&limit=[0-9a-z-]{0,25}",
            Just("after=1&after=2".to_string())
        ]),
    )
        .prop_map(|(prefix, segment, query)| match query {
            Some(q) => format!("{prefix}{segment}?{q}"),
            None => format!("{prefix}{segment}"),
        });
    let names = proptest::sample::select(vec![
        "If-Match",
        "If-None-Match",
        "if-match",
        "Content-Type",
        "X-Other",
        "Authorization",
    ]);
    let headers = proptest::collection::vec((names.prop_map(String::from), header_value()), 0..4);
    (method, path, headers, body()).prop_map(|(method, path, headers, body)| Request {
        method,
        path,
        headers,
        body,
    })
}

fn feed_len<S: ServerStore>(store: &S) -> u64 {
    let response =
        block_on(handle(store, &Config::default(), Request::new("GET", "/events?after=0&limit=1")));
    serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|v| v["head"].as_u64())
        .unwrap_or(0)
}

fn check_handle<S: ServerStore>(store: &S, requests: Vec<Request>) -> Result<(), TestCaseError> {
    // Something stored first, so reads, retries and preconditions have a state to meet.
    let seed = Request::new("POST", "/streams/s")
        .with_header("If-None-Match", "*")
        .with_body(json!({"events": [{"id": "e1", "type": "Added", "data": {"x": 1}, "recordedAt": 1_700_000_000_000u64}]}).to_string());
    prop_assert_eq!(block_on(handle(store, &Config::default(), seed)).status, 201);
    for request in requests {
        let before = feed_len(store);
        let shown = format!("{} {:?} {:?}", request.method, request.path, request.headers);
        let response = block_on(handle(store, &Config::default(), request));
        prop_assert!(KNOWN.contains(&response.status), "status {} for {}", response.status, shown);
        let after = feed_len(store);
        if response.status >= 400 {
            let body: Value = serde_json::from_slice(&response.body)
                .map_err(|e| TestCaseError::fail(format!("error body not JSON: {e}")))?;
            prop_assert!(
                body["error"].is_string() && body["message"].is_string(),
                "error body {}",
                body
            );
            prop_assert_eq!(before, after, "a {} wrote something: {}", response.status, shown);
        } else if response.status != 201 {
            prop_assert_eq!(before, after, "a {} wrote something: {}", response.status, shown);
        }
    }
    Ok(())
}

/// Runs `cases` of `strategy` through `test`, prints and returns the elapsed time.
fn run<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u128 {
    let started = Instant::now();
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("fuzz {name}: {e}");
    }
    let ms = started.elapsed().as_millis();
    println!("fuzz {name}: {cases} cases in {ms} ms");
    ms
}

fn fuzz_request_parser(cases: u32) {
    let requests = || proptest::collection::vec(request(), 1..4);
    run("server::handle (MemoryServerStore)", cases, requests(), |rs| {
        check_handle(&MemoryServerStore::new(), rs)
    });
    run("server::handle (KvServerStore)", cases / 4, requests(), |rs| {
        check_handle(&KvServerStore::new(MemoryKv::new()), rs)
    });
}

fn fuzz_preconditions(cases: u32) {
    let text = prop_oneof![
        any::<String>(),
        "[\"W/*, \t0-9a-z,]{0,16}",
        "(W/)?\"[0-9a-z]{0,4}\"(, *(W/)?\"[0-9]{0,3}\"){0,3}"
    ];
    run("Precondition::parse / EntityTag::parse", cases, text, |text| {
        if let Ok(p) = Precondition::parse(&text) {
            let printed = p.to_string();
            prop_assert_eq!(
                Precondition::parse(&printed).ok(),
                Some(p.clone()),
                "{:?} -> {:?}",
                text,
                printed
            );
            let current = EntityTag::number(1);
            let _ =
                (p.if_match(&current, true), p.if_none_match(&current, false), p.single_number());
        }
        if let Ok(tag) = EntityTag::parse(&text) {
            prop_assert_eq!(EntityTag::parse(&tag.to_string()).ok(), Some(tag.clone()));
            let _ = tag.as_number();
        }
        Ok(())
    });
}

fn fuzz_event_decoder(cases: u32) {
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..120),
        (event_json(), any::<u64>(), any::<u64>(), nasty_text()).prop_map(|(mut e, v, p, s)| {
            e["version"] = json!(v);
            e["position"] = json!(p);
            e["stream"] = json!(s);
            e.to_string().into_bytes()
        }),
    ];
    run("event decoder (ServerEvent / PushEvent JSON)", cases, bytes, |bytes| {
        if let Ok(event) = serde_json::from_slice::<ServerEvent>(&bytes) {
            let again: ServerEvent =
                serde_json::from_slice(&serde_json::to_vec(&event).unwrap_or_default())
                    .map_err(|e| TestCaseError::fail(format!("round trip: {e}")))?;
            prop_assert_eq!(again, event);
        }
        let _ = serde_json::from_slice::<PushRequest<Value>>(&bytes);
        Ok(())
    });
    // A value corrupted under the server (a bad disk, a hand edit): reads and pushes
    // answer, 500 at worst, never panic.
    let corrupt = (any::<prop::sample::Index>(), proptest::collection::vec(any::<u8>(), 0..80));
    run("stored value corrupted under KvServerStore", cases / 4, corrupt, |(index, garbage)| {
        let store = KvServerStore::new(MemoryKv::new());
        let push = Request::new("POST", "/streams/s")
            .with_header("If-None-Match", "*")
            .with_body(json!({"events": [{"id": "e1", "type": "T", "data": 1, "recordedAt": 1}, {"id": "e2", "type": "T", "data": 2, "recordedAt": 1}]}).to_string());
        prop_assert_eq!(block_on(handle(&store, &Config::default(), push.clone())).status, 201);
        let entries = store.kv().entries();
        let (key, old) = entries[index.index(entries.len())].clone();
        prop_assert!(block_on(store.kv().put_if(
            &[(key, Some(old))],
            &[(entries[index.index(entries.len())].0.clone(), garbage)]
        ))
        .unwrap_or(false));
        for request in [
            Request::new("GET", "/streams/s"),
            Request::new("GET", "/events"),
            push,
            Request::new("POST", "/streams/s").with_header("If-Match", "\"2\"").with_body(
                json!({"events": [{"id": "e3", "type": "T", "data": 3, "recordedAt": 1}]})
                    .to_string(),
            ),
        ] {
            let response = block_on(handle(&store, &Config::default(), request));
            prop_assert!(
                KNOWN.contains(&response.status) || response.status == 500,
                "status {}",
                response.status
            );
        }
        Ok(())
    });
}

#[test]
fn fuzz_small() {
    fuzz_request_parser(1_000);
    fuzz_preconditions(1_000);
    fuzz_event_decoder(1_000);
}

/// `make soak` (release): `FUZZ_CASES` per target, 100 000 by default.
#[test]
#[ignore = "long: run with `make soak`"]
fn fuzz_at_volume() {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let started = Instant::now();
    fuzz_request_parser(cases);
    fuzz_preconditions(cases);
    fuzz_event_decoder(cases);
    println!("fuzz total: {} ms", started.elapsed().as_millis());
}
