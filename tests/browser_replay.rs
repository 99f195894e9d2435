//! The shipped replay path (the JS API's `replay`, `replayAll`, `replayReport`,
//! `replayAllReport`, `registerUpcaster`, `execute` and `projection`: the Rust page plan
//! driving `js/fold.js`) over IndexedDB, in headless Chromium and Firefox, called from
//! Rust with JS reducers: paged folds, time travel by version and by position, upcasting,
//! skip mode, decide/evolve retries, projection snapshots. The JS suites
//! (tests/js/replay.test.mjs) run in Chromium only.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use tidelog::bindings::JsEventStore as EventStore;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn obj(entries: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (key, value) in entries {
        Reflect::set(&o, &(*key).into(), value).unwrap();
    }
    o.into()
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

fn num(value: &JsValue, key: &str) -> f64 {
    field(value, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

/// `JSON.stringify(value)`, to compare structured values.
fn text(value: &JsValue) -> String {
    JSON::stringify(value).unwrap().into()
}

/// A reducer `(s, e) => <body>`.
fn reducer(body: &str) -> JsValue {
    Function::new_with_args("s, e", &format!("return {body};")).into()
}

fn sum() -> JsValue {
    reducer("s + e.data.n")
}

/// `(name, field)` of a rejected call.
fn refusal(error: JsValue) -> (String, String) {
    (field(&error, "name").as_string().unwrap(), field(&error, "field").as_string().unwrap())
}

/// The value a promise resolves to, or what it rejects with.
async fn resolve(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
}

fn unique(tag: &str) -> String {
    format!("tidelog-test-replay-{tag}-{}-{}", js_sys::Date::now(), js_sys::Math::random())
}

async fn open(name: &str) -> EventStore {
    let store = EventStore::open(name.into(), obj(&[("storage", "indexeddb".into())]));
    EventStore::try_from_js_value(store.await.unwrap()).unwrap()
}

fn delete(store: EventStore, name: &str) {
    store.close();
    let factory = web_sys::window().unwrap().indexed_db().unwrap().unwrap();
    factory.delete_database(name).unwrap();
}

/// Appends `{ type, data: { n }, ...extra }` events to `stream`.
async fn append(store: &EventStore, stream: &str, events: &str) {
    store.append(stream.into(), json(events), JsValue::UNDEFINED).await.unwrap();
}

fn numbers(from: u32, to: u32) -> String {
    let events: Vec<String> =
        (from..=to).map(|n| format!(r#"{{"type":"Added","data":{{"n":{n}}}}}"#)).collect();
    format!("[{}]", events.join(","))
}

#[wasm_bindgen_test]
async fn paged_folds_and_time_travel_by_version_and_position() {
    let name = unique("paged");
    let store = open(&name).await;
    // Stream "a": 1..=1000 in batches of 100, each followed by one "b" event: "a" 1..100
    // sit at positions 1..100, "b" at 101, "a" 101.. from 102.
    for chunk in 0..10u32 {
        append(&store, "a", &numbers(chunk * 100 + 1, chunk * 100 + 100)).await;
        append(&store, "b", &numbers(1, 1)).await;
    }
    let options = |extra: &[(&str, JsValue)]| {
        let mut entries = vec![("reducer", sum()), ("initial", 0.into())];
        entries.extend(extra.iter().cloned());
        obj(&entries)
    };

    let report = resolve(store.replay_report("a".into(), options(&[("pageSize", 64.into())])))
        .await
        .unwrap();
    assert_eq!(num(&report, "state"), 500_500.0);
    assert_eq!(num(&report, "appliedCount"), 1000.0);
    assert_eq!(num(&report, "pageCount"), 16.0, "ceil(1000 / 64) pages, no extra read");
    assert_eq!((num(&report, "lastVersion"), num(&report, "lastPosition")), (1000.0, 1009.0));
    assert_eq!(
        (num(&report, "skippedCount"), text(&field(&report, "skippedIds"))),
        (0.0, "[]".into())
    );

    let replay = |extra: &[(&str, JsValue)]| resolve(store.replay("a".into(), options(extra)));
    assert_eq!(replay(&[("toVersion", 10.into())]).await.unwrap(), 55);
    assert_eq!(replay(&[("fromVersion", 991.into())]).await.unwrap(), (991..=1000).sum::<u32>());
    let to_position = replay(&[("toPosition", 102.into()), ("pageSize", 50.into())]).await;
    assert_eq!(to_position.unwrap(), 5050 + 101, "a's events 1..100, then 101 at position 102");

    let log = options(&[("toPosition", 101.into()), ("pageSize", 33.into())]);
    let log = resolve(store.replay_all_report(log)).await.unwrap();
    assert_eq!((num(&log, "state"), num(&log, "appliedCount")), (5050.0 + 1.0, 101.0));
    assert_eq!(num(&log, "pageCount"), 4.0, "33 + 33 + 33 + 2: the bound is an exact limit");
    assert_eq!(num(&log, "lastPosition"), 101.0);
    assert!(field(&log, "lastVersion").is_null(), "a whole-log report has no lastVersion");
    let count = obj(&[("reducer", reducer("s + 1")), ("initial", 0.into())]);
    assert_eq!(resolve(store.replay_all(count)).await.unwrap(), 1010);
    let tail =
        obj(&[("reducer", reducer("s + 1")), ("initial", 0.into()), ("fromPosition", 1001.into())]);
    assert_eq!(resolve(store.replay_all(tail)).await.unwrap(), 10);

    let wrong_scope =
        resolve(store.replay_all(options(&[("toVersion", 3.into())]))).await.unwrap_err();
    assert_eq!(refusal(wrong_scope), ("InvalidInputError".into(), "options.toVersion".into()));
    let not_a_function = obj(&[("reducer", 5.into()), ("initial", 0.into())]);
    let bad_reducer = resolve(store.replay("a".into(), not_a_function)).await.unwrap_err();
    assert_eq!(refusal(bad_reducer), ("InvalidInputError".into(), "options.reducer".into()));
    delete(store, &name);
}

#[wasm_bindgen_test]
async fn upcasters_chain_and_stored_events_stay_as_written() {
    let name = unique("upcast");
    let store = open(&name).await;
    append(
        &store,
        "p",
        r#"[{"type":"Priced","data":{"cents":150},"schema":1},
            {"type":"Priced","data":{"amount":2.5},"schema":2},
            {"type":"Priced","data":{"amount":{"value":4,"currency":"EUR"}},"schema":3}]"#,
    )
    .await;
    let step = |body: &str| -> JsValue { Function::new_with_args("data, event", body).into() };
    let two = step("return { amount: { value: data.amount, currency: 'EUR' } };");
    store.register_upcaster("Priced".into(), 2.into(), two).unwrap();
    store
        .register_upcaster("Priced".into(), 1.into(), step("return { amount: data.cents / 100 };"))
        .unwrap();
    let again =
        store.register_upcaster("Priced".into(), 1.into(), step("return data;")).unwrap_err();
    assert_eq!(refusal(again), ("InvalidInputError".into(), "fromSchema".into()));
    let zero =
        store.register_upcaster("Priced".into(), 0.into(), step("return data;")).unwrap_err();
    assert_eq!(refusal(zero), ("InvalidInputError".into(), "fromSchema".into()));

    let seen = obj(&[
        ("reducer", reducer("[...s, [e.schema, e.data.amount.value]]")),
        ("initial", Array::new().into()),
    ]);
    assert_eq!(
        text(&resolve(store.replay("p".into(), seen)).await.unwrap()),
        "[[3,1.5],[3,2.5],[3,4]]"
    );
    let raw = obj(&[
        ("reducer", reducer("[...s, e.schema]")),
        ("initial", Array::new().into()),
        ("upcast", false.into()),
    ]);
    assert_eq!(text(&resolve(store.replay("p".into(), raw)).await.unwrap()), "[1,2,3]");
    let read: Array =
        store.read("p".into(), obj(&[("upcast", true.into())])).await.unwrap().unchecked_into();
    assert_eq!(text(&read.map(&mut |e, _, _| field(&e, "schema"))), "[3,3,3]");
    let stored: Array = store.read("p".into(), JsValue::UNDEFINED).await.unwrap().unchecked_into();
    assert_eq!(text(&field(&stored.get(0), "data")), r#"{"cents":150}"#);
    delete(store, &name);
}

#[wasm_bindgen_test]
async fn a_failing_event_is_a_replay_error_or_skipped_and_reported() {
    let name = unique("skip");
    let store = open(&name).await;
    append(
        &store,
        "s",
        r#"[{"type":"Ok","data":1},{"type":"Boom","data":2,"id":"bad-1"},
            {"type":"Ok","data":3},{"type":"Old","data":4,"id":"bad-2"}]"#,
    )
    .await;
    let failing_step = Function::new_with_args("data", "throw new Error('cannot raise');");
    store.register_upcaster("Old".into(), 1.into(), failing_step.into()).unwrap();
    let boom = "if (e.type === 'Boom') throw new RangeError('no booms'); return s + e.data;";
    let options = |on_error: &str| {
        obj(&[
            ("reducer", Function::new_with_args("s, e", boom).into()),
            ("initial", 0.into()),
            ("onError", on_error.into()),
        ])
    };

    let error = resolve(store.replay("s".into(), options("throw"))).await.unwrap_err();
    assert_eq!(field(&error, "name"), "ReplayError");
    assert_eq!(field(&error, "code"), "replay_failed");
    let fields = ["position", "eventId", "stream", "version", "type"].map(|k| field(&error, k));
    assert_eq!(text(&fields.iter().collect::<Array>()), r#"[2,"bad-1","s",2,"Boom"]"#);
    assert_eq!(field(&field(&error, "cause"), "name"), "RangeError", "the thrown value itself");
    let message = field(&error, "message").as_string().unwrap();
    assert!(message.contains("RangeError: no booms"), "{message}");

    let report = resolve(store.replay_report("s".into(), options("skip"))).await.unwrap();
    assert_eq!((num(&report, "state"), num(&report, "appliedCount")), (4.0, 2.0));
    assert_eq!(num(&report, "skippedCount"), 2.0);
    assert_eq!(
        text(&field(&report, "skippedIds")),
        r#"["bad-1","bad-2"]"#,
        "reducer and upcaster failures, in order"
    );
    assert_eq!(
        resolve(store.replay("s".into(), options("skip"))).await.unwrap(),
        4,
        "replay resolves to the state"
    );
    let wrong = resolve(store.replay("s".into(), options("ignore"))).await.unwrap_err();
    assert_eq!(refusal(wrong), ("InvalidInputError".into(), "options.onError".into()));
    delete(store, &name);
}

#[wasm_bindgen_test]
async fn execute_retries_a_conflict_on_the_new_state_within_max_attempts() {
    let name = unique("execute");
    let store = open(&name).await;
    let other = open(&name).await; // another writer, same database
    append(&store, "acct", r#"[{"type":"Deposited","data":10}]"#).await;
    let other = std::rc::Rc::new(other);
    // decide: the first call lets the other writer deposit 1 before answering (async).
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let decide = {
        let (other, calls) = (other.clone(), calls.clone());
        Closure::<dyn FnMut(JsValue, JsValue) -> Promise>::new(
            move |amount: JsValue, balance: JsValue| {
                calls.set(calls.get() + 1);
                let (other, first) = (other.clone(), calls.get() == 1);
                future_to_promise(async move {
                    if first {
                        let deposit = json(r#"[{"type":"Deposited","data":1}]"#);
                        other.append("acct".into(), deposit, JsValue::UNDEFINED).await?;
                    }
                    let (amount, balance) = (amount.as_f64().unwrap(), balance.as_f64().unwrap());
                    assert!(balance >= amount);
                    Ok(json(&format!(r#"[{{"type":"Withdrawn","data":{}}}]"#, -amount)))
                })
            },
        )
    };
    let options = |max: u32| {
        obj(&[
            ("reducer", reducer("s + e.data")),
            ("initial", 0.into()),
            ("decide", decide.as_ref().clone()),
            ("maxAttempts", max.into()),
        ])
    };
    let done = store.execute("acct".into(), 5.into(), options(3)).await.unwrap();
    assert_eq!(num(&done, "attempts"), 2.0, "one conflict, one retry");
    assert_eq!(num(&done, "state"), 11.0, "the retry decided on the other writer's deposit");
    assert_eq!(num(&done, "version"), 2.0);
    assert_eq!(num(&field(&done, "appended"), "lastVersion"), 3.0);

    calls.set(0); // the other writer strikes again; one attempt allowed
    let conflict = store.execute("acct".into(), 1.into(), options(1)).await.unwrap_err();
    assert_eq!(field(&conflict, "name"), "VersionConflictError");
    let nothing = obj(&[
        ("reducer", reducer("s + e.data")),
        ("initial", 0.into()),
        ("decide", Function::new_no_args("return [];").into()),
    ]);
    let nothing = store.execute("acct".into(), 0.into(), nothing).await.unwrap();
    assert!(field(&nothing, "appended").is_null());
    assert_eq!(num(&nothing, "state"), 7.0, "10 + 1 - 5 + 1");
    other.close();
    delete(store, &name);
}

#[wasm_bindgen_test]
async fn a_projection_resumes_from_its_snapshot_and_a_new_revision_rebuilds() {
    let name = unique("projection");
    let store = open(&name).await;
    let batch: Vec<String> = (1..=1000).map(|n| format!(r#"{{"type":"N","data":{n}}}"#)).collect();
    append(&store, "s", &format!("[{}]", batch.join(","))).await;
    let options = |revision: u32| {
        obj(&[
            ("reducer", reducer("s + e.data")),
            ("initial", 0.into()),
            ("revision", revision.into()),
            ("snapshotEvery", 300.into()),
        ])
    };
    let first = store.projection("totals".into(), options(1)).unwrap();
    assert_eq!(resolve(first.state()).await.unwrap(), 500_500);
    let metrics = first.metrics();
    assert_eq!((num(&metrics, "replayedEvents"), num(&metrics, "snapshotsWritten")), (1000.0, 1.0));
    assert_eq!(num(&metrics, "revision"), 1.0);

    // "Reload": another store object on the database reads the snapshot and the tail.
    let reloaded = open(&name).await;
    append(&reloaded, "s", r#"[{"type":"N","data":1},{"type":"N","data":1}]"#).await;
    let again = reloaded.projection("totals".into(), options(1)).unwrap();
    assert_eq!(resolve(again.state()).await.unwrap(), 500_502);
    let metrics = again.metrics();
    assert_eq!((num(&metrics, "snapshotPosition"), num(&metrics, "replayedEvents")), (1000.0, 2.0));

    let bumped = reloaded.projection("totals".into(), options(2)).unwrap();
    assert_eq!(resolve(bumped.state()).await.unwrap(), 500_502);
    let metrics = bumped.metrics();
    assert_eq!(field(&metrics, "invalidatedSnapshot"), true);
    assert_eq!(num(&metrics, "replayedEvents"), 1002.0, "a new revision folds everything");
    let unknown = store.projection("x".into(), obj(&[("reducer", sum()), ("version", 1.into())]));
    assert_eq!(
        refusal(unknown.err().unwrap()),
        ("InvalidInputError".into(), "options.version".into())
    );
    reloaded.close();
    delete(store, &name);
}
