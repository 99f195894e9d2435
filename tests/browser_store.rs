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
    assert_eq!(results.len(), 12);
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

#[wasm_bindgen_test]
async fn two_tabs_claiming_one_username_under_a_condition() {
    // The append condition is checked inside the append's readwrite transaction, so two
    // connections (two tabs) deciding on the same state cannot both claim the username.
    use tidelog::query::{AppendCondition, Query, QueryItem, QueryOptions};
    use tidelog::Tag;
    let name = unique("claim");
    let a = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let b = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let tag = Tag::new("username:ada").unwrap();
    let rule = Query::Items(vec![QueryItem::of_tags(vec![tag.clone()])]);
    let condition = AppendCondition { fail_if_events_match: rule.clone(), after: None };
    let claim = |n| vec![event(n).with_tags(vec![tag.clone()])];
    let (sa, sb) = (StreamId::new("account-a").unwrap(), StreamId::new("account-b").unwrap());
    let outcomes = conformance::join_all(vec![
        Box::pin(a.append_if(&sa, ExpectedVersion::Any, Some(&condition), claim(1)))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
        Box::pin(b.append_if(&sb, ExpectedVersion::Any, Some(&condition), claim(2))),
    ])
    .await;
    let wins = outcomes.iter().filter(|r| r.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|r| matches!(r, Err(Error::AppendCondition { position: Position(1), .. })))
        .count();
    assert_eq!((wins, refused), (1, 1), "{outcomes:?}");
    let claims = b.query(&rule, QueryOptions::default()).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].tags, [tag]);
}

#[wasm_bindgen_test]
async fn a_schema_3_database_gains_the_tag_and_type_indexes() {
    // A database as the previous schema left it (events without tags): opening it adds the
    // indexes, its events are found by type, and new tagged events by tag.
    use tidelog::query::{Query, QueryItem, QueryOptions};
    use tidelog::Tag;
    let name = unique("upgrade");
    let events = rexie::ObjectStore::new("events")
        .key_path("position")
        .add_index(rexie::Index::new_array("by_stream", ["stream", "version"]).unique(true))
        .add_index(rexie::Index::new("by_id", "id").unique(true));
    let old = rexie::Rexie::builder(&name)
        .version(3)
        .add_object_store(events)
        .add_object_store(rexie::ObjectStore::new("streams").key_path("stream"))
        .add_object_store(rexie::ObjectStore::new("meta"))
        .add_object_store(rexie::ObjectStore::new("snapshots").key_path("name"))
        .add_object_store(rexie::ObjectStore::new("outbox").key_path("stream"))
        .add_object_store(rexie::ObjectStore::new("dead_letters").key_path("id"))
        .add_object_store(rexie::ObjectStore::new("conflicts").key_path("id"))
        .build()
        .await
        .unwrap();
    let tx =
        old.transaction(&["events", "streams", "meta"], rexie::TransactionMode::ReadWrite).unwrap();
    let record: JsValue = js_sys::JSON::parse(
        r#"{"position":1,"id":"old-1","stream":"s","version":1,"type":"Counted","data":1,"meta":null,"recordedAt":1,"schema":1}"#,
    )
    .unwrap();
    tx.store("events").unwrap().add(&record, None).await.unwrap();
    let head: JsValue =
        js_sys::JSON::parse(r#"{"stream":"s","version":1,"lastPosition":1,"syncedVersion":0}"#)
            .unwrap();
    tx.store("streams").unwrap().put(&head, None).await.unwrap();
    let global: JsValue = js_sys::JSON::parse(r#"{"position":1}"#).unwrap();
    tx.store("meta").unwrap().put(&global, Some(&JsValue::from_str("head"))).await.unwrap();
    tx.done().await.unwrap();
    old.close();

    let store = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let counted = Query::Items(vec![QueryItem::of_types(vec![EventType::new("Counted").unwrap()])]);
    let found = store.query(&counted, QueryOptions::default()).await.unwrap();
    assert_eq!(found.len(), 1, "the old event is indexed by type");
    assert!(found[0].tags.is_empty());
    let tag = Tag::new("t").unwrap();
    let s = StreamId::new("s").unwrap();
    store
        .append(&s, ExpectedVersion::Exact(Version(1)), vec![event(2).with_tags(vec![tag.clone()])])
        .await
        .unwrap();
    let tagged = Query::Items(vec![QueryItem::of_tags(vec![tag])]);
    let found = store.query(&tagged, QueryOptions::default()).await.unwrap();
    assert_eq!(found.iter().map(|e| e.position).collect::<Vec<_>>(), [Position(2)]);
    store.close();
    IndexedDbStore::delete(&name).await.unwrap();
}
