//! The IndexedDB backend in a real browser (headless Chromium and Firefox): the shared
//! conformance suite plus what only a real database shows.
#![cfg(target_arch = "wasm32")]

use tidelog::store::conformance::{self, Payloads};
use tidelog::store::{EventStore, ReadOptions};
use tidelog::web::indexeddb::{Durability, IndexedDbStore};
use tidelog::{Error, EventType, ExpectedVersion, NewEvent, Position, StreamId, Version};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn unique(name: &str) -> String {
    format!("tidelog-test-{name}-{}-{}", js_sys::Date::now(), js_sys::Math::random())
}

fn event(n: u32) -> NewEvent<JsValue> {
    NewEvent::new(EventType::new("Counted").unwrap(), JsValue::from(n))
}

#[wasm_bindgen_test]
async fn indexeddb_store_passes_the_conformance_suite() {
    let payloads =
        Payloads::<JsValue> { make: |n| JsValue::from(n), tag: |v| v.as_f64().map(|f| f as u32) };
    let results = conformance::run_all(
        || async {
            IndexedDbStore::open(&unique("conformance"), Durability::Default).await.unwrap()
        },
        &payloads,
    )
    .await;
    assert_eq!(results.len(), 8);
    let failures: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[wasm_bindgen_test]
async fn events_persist_across_close_and_reopen() {
    let name = unique("persist");
    let s = StreamId::new("cart-1").unwrap();
    let store = IndexedDbStore::open(&name, Durability::Strict).await.unwrap();
    store.append(&s, ExpectedVersion::NoStream, vec![event(1), event(2)]).await.unwrap();
    store.close();
    assert!(matches!(store.version(&s).await, Err(Error::Closed)));

    let store = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    assert_eq!(store.version(&s).await.unwrap(), Version(2));
    let r = store.append(&s, ExpectedVersion::Exact(Version(2)), vec![event(3)]).await.unwrap();
    assert_eq!(r.first_position, Position(3), "positions continue after reopen");
    let all = store.read(&s, ReadOptions::default()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.data.as_f64().unwrap()).collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
    store.close();
    IndexedDbStore::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_uncloneable_payload_fails_the_whole_batch() {
    let store = IndexedDbStore::open(&unique("clone"), Durability::Default).await.unwrap();
    let s = StreamId::new("s").unwrap();
    let function = js_sys::Function::new_no_args("return 1");
    let batch = vec![
        event(1),
        event(2),
        NewEvent::new(EventType::new("Bad").unwrap(), function.into()),
        event(4),
    ];
    let err = store.append(&s, ExpectedVersion::Any, batch).await.unwrap_err();
    match &err {
        Error::InvalidInput { field, .. } => assert_eq!(field, "events[2].data"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert_eq!(store.version(&s).await.unwrap(), Version(0), "nothing written");
    assert!(store.read_all(Position(0), 10).await.unwrap().is_empty());
    // The store still works after the failed batch.
    store.append(&s, ExpectedVersion::NoStream, vec![event(1)]).await.unwrap();
    assert_eq!(store.version(&s).await.unwrap(), Version(1));
}

#[wasm_bindgen_test]
async fn two_connections_racing_like_two_tabs() {
    // Two connections to one database behave as two tabs do: IndexedDB serializes
    // their readwrite transactions, so exactly one append on a version wins.
    let name = unique("tabs");
    let a = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let b = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let s = StreamId::new("shared").unwrap();
    let (ra, rb) = conformance::join_all(vec![
        Box::pin(a.append(&s, ExpectedVersion::NoStream, vec![event(1)]))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
        Box::pin(b.append(&s, ExpectedVersion::NoStream, vec![event(2)])),
    ])
    .await
    .into_iter()
    .fold((0, 0), |(ok, conflict), r| match r {
        Ok(_) => (ok + 1, conflict),
        Err(Error::VersionConflict { .. }) => (ok, conflict + 1),
        Err(e) => panic!("unexpected {e}"),
    });
    assert_eq!((ra, rb), (1, 1), "one winner, one conflict");
    assert_eq!(b.version(&s).await.unwrap(), Version(1));
}

#[wasm_bindgen_test]
async fn the_database_is_plain_indexeddb_that_rexie_can_read() {
    let name = unique("rexie");
    let store = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let s = StreamId::new("cart").unwrap();
    store.append(&s, ExpectedVersion::Any, vec![event(7)]).await.unwrap();
    store.close();

    let db = rexie::Rexie::builder(&name).build().await.unwrap();
    let tx = db.transaction(&["events"], rexie::TransactionMode::ReadOnly).unwrap();
    let record = tx.store("events").unwrap().get(JsValue::from(1)).await.unwrap().unwrap();
    let get = |k: &str| js_sys::Reflect::get(&record, &k.into()).unwrap();
    assert_eq!(get("stream").as_string().as_deref(), Some("cart"));
    assert_eq!(get("version").as_f64(), Some(1.0));
    assert_eq!(get("type").as_string().as_deref(), Some("Counted"));
    assert_eq!(get("data").as_f64(), Some(7.0));
    db.close();
}
