//! The replay engine over the IndexedDB backend, in headless Chromium and Firefox: paged
//! folds, time travel by version and by position, whole-log replay.
#![cfg(target_arch = "wasm32")]

use tidelog::replay::{replay, Fold, ReplayOptions};
use tidelog::web::indexeddb::{Durability, IndexedDbStore};
use tidelog::store::EventStore;
use tidelog::{Event, EventType, ExpectedVersion, NewEvent, Position, StreamId, Version};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn sum() -> Fold<f64, impl FnMut(&mut f64, &Event<JsValue>)> {
    Fold::new(0.0, |total: &mut f64, e: &Event<JsValue>| *total += e.data.as_f64().unwrap_or(0.0))
}

#[wasm_bindgen_test]
async fn replay_over_indexeddb_in_pages_with_time_travel() {
    let name = format!("tidelog-test-replay-{}-{}", js_sys::Date::now(), js_sys::Math::random());
    let store = IndexedDbStore::open(&name, Durability::Default).await.unwrap();
    let (a, b) = (StreamId::new("a").unwrap(), StreamId::new("b").unwrap());
    let event = |n: u32| NewEvent::new(EventType::new("Added").unwrap(), JsValue::from(n));
    for chunk in 0..10u32 {
        let batch = (1..=100).map(|i| event(chunk * 100 + i)).collect();
        store.append(&a, ExpectedVersion::Any, batch).await.unwrap();
        store.append(&b, ExpectedVersion::Any, vec![event(1)]).await.unwrap();
    }

    // The whole stream, in pages of 64: 1 + 2 + ... + 1000.
    let mut total = sum();
    let options = ReplayOptions { page_size: 64, ..Default::default() };
    let report = replay(&store, Some(&a), &mut total, None, &options).await.unwrap();
    assert_eq!((total.state, report.events), (500_500.0, 1000));
    assert_eq!(report.pages, 16, "ceil(1000 / 64) pages, no extra read");

    // Time travel by version.
    let mut early = sum();
    let options = ReplayOptions { to_version: Some(Version(10)), ..Default::default() };
    replay(&store, Some(&a), &mut early, None, &options).await.unwrap();
    assert_eq!(early.state, 55.0);

    // The whole log up to a position: stream a's first 100 events and b's first one.
    let mut log = sum();
    let options = ReplayOptions { to_position: Some(Position(101)), page_size: 33, ..Default::default() };
    let report = replay(&store, None, &mut log, None, &options).await.unwrap();
    assert_eq!((log.state, report.events), (5_050.0 + 1.0, 101));
    assert_eq!(report.last_position, Some(Position(101)));
    store.close();
    IndexedDbStore::delete(&name).await.unwrap();
}
