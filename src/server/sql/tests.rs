//! Native tests of the SQL store's logic over an in-memory table with the schema's
//! constraints: the same answers as [`MemoryServerStore`](crate::server::MemoryServerStore),
//! lost races, paging under the read budget, corrupt rows. The SQL itself runs in
//! workerd (`js/do_sql.js`, tests/js/server.test.mjs).

use std::cell::{Cell, RefCell};

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::server::kv::tests::{body, op, push_request, request, send};
use crate::server::{MemoryServerStore, Request};
use crate::test_util::{block_on, sid};

/// A row of the `events` table.
#[derive(Clone, Debug)]
struct Row {
    position: u64,
    stream: String,
    version: u64,
    id: String,
    event: String,
}

/// The `events` table in memory (rows in position order), with its unique constraints
/// checked on insert; `steal` inserts one row of another writer before the next append.
#[derive(Default)]
struct MemorySql {
    rows: RefCell<Vec<Row>>,
    steal: Cell<Option<(&'static str, &'static str)>>,
}

impl SqlSpace for MemorySql {
    async fn stream_version(&self, stream: &str) -> Result<u64> {
        let rows = self.rows.borrow();
        Ok(rows.iter().filter(|r| r.stream == stream).map(|r| r.version).max().unwrap_or(0))
    }

    async fn feed_head(&self) -> Result<u64> {
        Ok(self.rows.borrow().last().map_or(0, |r| r.position))
    }

    async fn events_by_id(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        let rows = self.rows.borrow();
        Ok(ids
            .iter()
            .map(|id| rows.iter().find(|r| &r.id == id).map(|r| r.event.clone()))
            .collect())
    }

    async fn append_if(
        &self,
        stream: &str,
        expected: u64,
        head: u64,
        rows: &[(String, String)],
    ) -> Result<bool> {
        if let Some((stream, id)) = self.steal.take() {
            let position = self.feed_head().await? + 1;
            let version = self.stream_version(stream).await? + 1;
            let event = json!({"id": id, "stream": stream, "version": version, "position": position, "type": "T", "data": 0, "recordedAt": 1, "schema": 1});
            self.rows.borrow_mut().push(Row {
                position,
                stream: stream.into(),
                version,
                id: id.into(),
                event: event.to_string(),
            });
        }
        if self.stream_version(stream).await? != expected || self.feed_head().await? != head {
            return Ok(false);
        }
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        if self.events_by_id(&ids).await?.iter().any(Option::is_some) {
            return Ok(false);
        }
        let mut table = self.rows.borrow_mut();
        for (n, (id, event)) in (1u64..).zip(rows) {
            table.push(Row {
                position: head + n,
                stream: stream.into(),
                version: expected + n,
                id: id.clone(),
                event: event.clone(),
            });
        }
        Ok(true)
    }

    async fn stream_events(&self, stream: &str, after: u64, limit: usize) -> Result<Vec<String>> {
        let rows = self.rows.borrow();
        Ok(rows
            .iter()
            .filter(|r| r.stream == stream && r.version > after)
            .take(limit)
            .map(|r| r.event.clone())
            .collect())
    }

    async fn feed_events(&self, after: u64, limit: usize) -> Result<Vec<String>> {
        let rows = self.rows.borrow();
        Ok(rows
            .iter()
            .filter(|r| r.position > after)
            .take(limit)
            .map(|r| r.event.clone())
            .collect())
    }
}

fn sql_store() -> SqlServerStore<MemorySql> {
    SqlServerStore::new(MemorySql::default())
}

fn push_event(id: &str) -> PushEvent<Value> {
    PushEvent {
        id: EventId::new(id).unwrap(),
        event_type: crate::event::EventType::new("T").unwrap(),
        tags: Vec::new(),
        data: json!(1),
        meta: None,
        recorded_at: 1,
        schema: 1,
    }
}

#[test]
fn a_full_batch_is_one_append_with_contiguous_versions_and_positions() {
    let store = sql_store();
    let ids: Vec<String> = (0..100).map(|i| format!("id-{i}")).collect();
    assert_eq!(send(&store, push_request("s", ("If-Match", "\"0\"".into()), &ids)).status, 201);
    assert_eq!(
        send(&store, push_request("t", ("If-Match", "\"0\"".into()), &ids[..0])).status,
        422
    );
    let rows = store.sql().rows.borrow().clone();
    assert_eq!(rows.len(), 100);
    assert!(rows
        .iter()
        .enumerate()
        .all(|(i, r)| r.position == i as u64 + 1 && r.version == r.position));
    let (head, feed) = block_on(store.read_feed(Position(0), 1000)).unwrap();
    assert_eq!((head, feed.len()), (Position(100), 100));
}

#[test]
fn lost_races_write_nothing_and_say_what_moved() {
    let cases = [
        (("s", "other"), AppendOutcome::VersionMoved(Version(1))),
        (("t", "x"), AppendOutcome::IdTaken(EventId::new("x").unwrap())),
        (("t", "y"), AppendOutcome::VersionMoved(Version(0))),
    ];
    for (steal, expected) in cases {
        let store = sql_store();
        store.sql().steal.set(Some(steal));
        let outcome = block_on(store.append(&sid("s"), Version(0), &[push_event("x")])).unwrap();
        assert_eq!(outcome, expected, "{steal:?}");
        let rows = store.sql().rows.borrow();
        assert_eq!(rows.len(), 1, "only the other writer's row: {steal:?}");
        assert_eq!(rows[0].id, steal.1);
    }
}

#[test]
fn reads_page_under_the_byte_budget() {
    let store = SqlServerStore::new(MemorySql::default()).with_max_read_bytes(300);
    let ids: Vec<String> = (0..10).map(|i| format!("id-{i}")).collect();
    assert_eq!(send(&store, push_request("s", ("If-None-Match", "*".into()), &ids)).status, 201);
    for feed in [false, true] {
        let (mut after, mut seen) = (0, Vec::new());
        loop {
            let path = if feed {
                format!("/events?after={after}")
            } else {
                format!("/streams/s?after={after}")
            };
            let r = body(&send(&store, Request::new("GET", path)));
            let events = r["events"].as_array().unwrap().clone();
            assert!(!events.is_empty() && events.len() < 10, "{r}");
            after =
                events.last().unwrap()[if feed { "position" } else { "version" }].as_u64().unwrap();
            seen.extend(events.into_iter().map(|e| e["id"].clone()));
            if after == r[if feed { "head" } else { "version" }].as_u64().unwrap() {
                break;
            }
        }
        assert_eq!(seen, ids.iter().map(|i| json!(i)).collect::<Vec<_>>());
    }
}

#[test]
fn reads_over_many_pages_return_every_event_once() {
    let store = sql_store();
    for n in 0..3 {
        let ids: Vec<String> = (0..100).map(|i| format!("p{n}-{i}")).collect();
        let precondition = ("If-Match", format!("\"{}\"", n * 100));
        assert_eq!(send(&store, push_request("s", precondition, &ids)).status, 201);
    }
    let (version, events) = block_on(store.read_stream(&sid("s"), Version(5), 1000)).unwrap();
    assert_eq!(version, Version(300));
    assert!(events.iter().map(|e| e.version.0).eq(6..=300));
    let (_, feed) = block_on(store.read_feed(Position(0), 290)).unwrap();
    assert!(feed.iter().map(|e| e.position.0).eq(1..=290));
}

#[test]
fn a_corrupt_row_is_a_500_never_a_panic() {
    let store = sql_store();
    assert_eq!(
        send(&store, push_request("s", ("If-None-Match", "*".into()), &["a".into()])).status,
        201
    );
    store.sql().rows.borrow_mut()[0].event = "{".into();
    for request in [
        Request::new("GET", "/streams/s"),
        Request::new("GET", "/events"),
        push_request("s", ("If-Match", "\"1\"".into()), &["a".into()]),
    ] {
        assert_eq!(send(&store, request).status, 500);
    }
}

proptest! {
    #[test]
    fn answers_like_the_memory_store(ops in proptest::collection::vec(op(), 1..40)) {
        let memory = MemoryServerStore::new();
        let sql = sql_store();
        for op in &ops {
            let expected = send(&memory, request(op));
            let actual = send(&sql, request(op));
            prop_assert_eq!(&actual, &expected, "{:?}", op);
        }
        let (_, all) = block_on(sql.read_feed(Position(0), 10_000)).unwrap();
        prop_assert_eq!(all, memory.all_events());
    }
}
