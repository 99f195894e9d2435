//! A first browser test: a real IndexedDB database, opened through rexie, written and
//! read back. Runs in headless Chromium and Firefox (`make test`).
#![cfg(target_arch = "wasm32")]

use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn rexie_writes_and_reads_real_indexeddb() {
    let name = format!("tidelog-rexie-{}", js_sys::Date::now());
    let db = Rexie::builder(&name)
        .version(1)
        .add_object_store(ObjectStore::new("notes").key_path("id"))
        .build()
        .await
        .unwrap();
    let tx = db.transaction(&["notes"], TransactionMode::ReadWrite).unwrap();
    let notes = tx.store("notes").unwrap();
    let note = js_sys::Object::new();
    js_sys::Reflect::set(&note, &"id".into(), &JsValue::from(1)).unwrap();
    js_sys::Reflect::set(&note, &"text".into(), &"hello".into()).unwrap();
    notes.add(&note, None).await.unwrap();
    tx.done().await.unwrap();

    let tx = db.transaction(&["notes"], TransactionMode::ReadOnly).unwrap();
    let got = tx.store("notes").unwrap().get(JsValue::from(1)).await.unwrap().unwrap();
    let text = js_sys::Reflect::get(&got, &"text".into()).unwrap();
    assert_eq!(text.as_string().as_deref(), Some("hello"));
    db.close();
    Rexie::delete(&name).await.unwrap();
}
