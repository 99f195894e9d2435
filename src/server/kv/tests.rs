//! Native tests of the key-value layout: the same requests answered byte for byte like
//! [`MemoryServerStore`](crate::server::MemoryServerStore), odd stream ids that must not
//! collide, lost races, paging under the read budget, and corrupt data.

use crate::test_util::{block_on, sid};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::protocol::stream_path;
use crate::server::{handle, Config, MemoryServerStore, Request, Response};

pub(crate) fn push_request(stream: &str, precondition: (&str, String), ids: &[String]) -> Request {
    let events: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "type": "T", "data": {"id": id, "s": "é🛒"}, "recordedAt": 1}))
        .collect();
    Request::new("POST", stream_path("", &sid(stream)).unwrap())
        .with_header(precondition.0, precondition.1)
        .with_body(json!({ "events": events }).to_string())
}

fn kv_store() -> KvServerStore<MemoryKv> {
    KvServerStore::new(MemoryKv::new())
}

pub(crate) fn send<S: ServerStore>(store: &S, request: Request) -> Response {
    block_on(handle(store, &Config::default(), request))
}

pub(crate) fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

pub(crate) const ODD: [&str; 10] =
    ["a", "a:b", "a%3Ab", "a:", ":", "a b/c", "%2F", "🛒", "...", "a:b:0000000000000001"];

#[test]
fn odd_stream_ids_get_their_own_keys() {
    let store = kv_store();
    for (n, stream) in ODD.iter().enumerate() {
        let r =
            send(&store, push_request(stream, ("If-None-Match", "*".into()), &[format!("e{n}")]));
        assert_eq!(r.status, 201, "{stream:?}: {}", String::from_utf8_lossy(&r.body));
    }
    for (n, stream) in ODD.iter().enumerate() {
        let (version, events) = block_on(store.read_stream(&sid(stream), Version(0), 10)).unwrap();
        assert_eq!(version, Version(1), "{stream:?}");
        assert_eq!(events.len(), 1, "{stream:?}");
        assert_eq!(events[0].id.as_str(), format!("e{n}"));
        assert_eq!(events[0].stream.as_str(), *stream);
    }
    // Every key is printable ASCII without control characters, under 2 KiB.
    for (key, value) in store.kv().entries() {
        assert!(key.len() < 2048 && key.bytes().all(|b| (0x20..0x7f).contains(&b)), "{key:?}");
        assert!(value.len() < 128 * 1024);
    }
    let long = "€".repeat(85);
    assert_eq!(stream_key(&sid(&long)).len(), 85 * 9);
}

#[test]
fn a_full_batch_is_written_in_one_put_if() {
    let store = kv_store();
    let ids: Vec<String> = (0..100).map(|i| format!("id-{i}")).collect();
    let r = send(&store, push_request("s", ("If-Match", "\"0\"".into()), &ids));
    assert_eq!(r.status, 201);
    // 3 keys per event, the stream version and the head.
    assert_eq!(store.kv().entries().len(), 302);
    let (head, feed) = block_on(store.read_feed(Position(0), 1000)).unwrap();
    assert_eq!((head, feed.len()), (Position(100), 100));
    assert!(feed.windows(2).all(|w| w[0].position < w[1].position));
}

/// A backend where another writer slips in just before every `put_if`.
struct Racing {
    inner: MemoryKv,
    steal: std::cell::Cell<Option<(String, Vec<u8>)>>,
}

impl Kv for Racing {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.inner.get(keys).await
    }
    async fn list(&self, p: &str, s: &str, l: usize) -> Result<Vec<(String, Vec<u8>)>> {
        self.inner.list(p, s, l).await
    }
    async fn put_if(
        &self,
        expect: &[(String, Option<Vec<u8>>)],
        put: &[(String, Vec<u8>)],
    ) -> Result<bool> {
        if let Some((k, v)) = self.steal.take() {
            self.inner.put_if(&[], &[(k, v)]).await?;
        }
        self.inner.put_if(expect, put).await
    }
}

#[test]
fn lost_races_write_nothing_and_say_what_moved() {
    let event = |id: &str| PushEvent {
        id: EventId::new(id).unwrap(),
        event_type: crate::event::EventType::new("T").unwrap(),
        tags: Vec::new(),
        data: json!(1),
        meta: None,
        recorded_at: 1,
        schema: 1,
    };
    let cases = [
        (("s:s", b"1".to_vec()), AppendOutcome::VersionMoved(Version(1))),
        (("i:x", b"9".to_vec()), AppendOutcome::IdTaken(EventId::new("x").unwrap())),
        (("h", b"5".to_vec()), AppendOutcome::VersionMoved(Version(0))),
    ];
    for ((key, value), expected) in cases {
        let store = KvServerStore::new(Racing {
            inner: MemoryKv::new(),
            steal: std::cell::Cell::new(Some((key.to_string(), value.clone()))),
        });
        let outcome = block_on(store.append(&sid("s"), Version(0), &[event("x")])).unwrap();
        assert_eq!(outcome, expected, "{key}");
        assert_eq!(store.kv().inner.entries(), vec![(key.to_string(), value)], "{key}");
    }
}

#[test]
fn reads_page_under_the_byte_budget() {
    let store = KvServerStore::new(MemoryKv::new()).with_max_read_bytes(300);
    let ids: Vec<String> = (0..10).map(|i| format!("id-{i}")).collect();
    assert_eq!(send(&store, push_request("s", ("If-None-Match", "*".into()), &ids)).status, 201);
    for feed in [false, true] {
        let mut after = 0;
        let mut seen = Vec::new();
        loop {
            let path = if feed {
                format!("/events?after={after}")
            } else {
                format!("/streams/s?after={after}")
            };
            let r = body(&send(&store, Request::new("GET", path)));
            let events = r["events"].as_array().unwrap().clone();
            assert!(!events.is_empty() && events.len() < 10, "{r}");
            let key = if feed { "position" } else { "version" };
            after = events.last().unwrap()[key].as_u64().unwrap();
            seen.extend(events.into_iter().map(|e| e["id"].clone()));
            if after == r[if feed { "head" } else { "version" }].as_u64().unwrap() {
                break;
            }
        }
        assert_eq!(seen, ids.iter().map(|i| json!(i)).collect::<Vec<_>>());
    }
}

#[test]
fn corrupt_data_is_a_500_never_a_panic() {
    let store = kv_store();
    assert_eq!(
        send(&store, push_request("s", ("If-None-Match", "*".into()), &["a".into()])).status,
        201
    );
    for (key, value) in
        [("s:s", b"x".to_vec()), ("h", b"-1".to_vec()), ("e:0000000000000001", b"{".to_vec())]
    {
        let store = kv_store();
        assert_eq!(
            send(&store, push_request("s", ("If-None-Match", "*".into()), &["a".into()])).status,
            201
        );
        block_on(store.kv().put_if(&[], &[(key.to_string(), value)])).unwrap();
        let stream = send(&store, Request::new("GET", "/streams/s"));
        let feed = send(&store, Request::new("GET", "/events"));
        let retry = send(&store, push_request("s", ("If-Match", "\"1\"".into()), &["a".into()]));
        assert!([stream.status, feed.status, retry.status].contains(&500), "{key}");
        for r in [stream, feed, retry] {
            assert!(r.status == 200 || r.status == 500, "{key}: {}", r.status);
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Push { stream: usize, base: Option<u64>, ids: Vec<u8> },
    ReadStream { stream: usize, after: u64, limit: u64, tag: Option<u64> },
    ReadFeed { after: u64, limit: u64, tag: Option<u64> },
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..ODD.len(), proptest::option::of(0u64..6), proptest::collection::vec(0u8..24, 1..4))
            .prop_map(|(stream, base, ids)| Op::Push { stream, base, ids }),
        (0..ODD.len(), 0u64..6, 1u64..4, proptest::option::of(0u64..6))
            .prop_map(|(stream, after, limit, tag)| Op::ReadStream { stream, after, limit, tag }),
        (0u64..12, 1u64..5, proptest::option::of(0u64..12))
            .prop_map(|(after, limit, tag)| Op::ReadFeed { after, limit, tag }),
    ]
}

pub(crate) fn request(op: &Op) -> Request {
    match op {
        Op::Push { stream, base, ids } => {
            let precondition = match base {
                Some(v) => ("If-Match", format!("\"{v}\"")),
                None => ("If-None-Match", "*".to_string()),
            };
            let ids: Vec<String> = ids.iter().map(|i| format!("id-{i}")).collect();
            push_request(ODD[*stream], precondition, &ids)
        }
        Op::ReadStream { stream, after, limit, tag } => {
            let path = format!(
                "{}?after={after}&limit={limit}",
                stream_path("", &sid(ODD[*stream])).unwrap()
            );
            let r = Request::new("GET", path);
            match tag {
                Some(t) => r.with_header("If-None-Match", format!("\"{t}\"")),
                None => r,
            }
        }
        Op::ReadFeed { after, limit, tag } => {
            let r = Request::new("GET", format!("/events?after={after}&limit={limit}"));
            match tag {
                Some(t) => r.with_header("If-None-Match", format!("\"{t}\"")),
                None => r,
            }
        }
    }
}

proptest! {
    #[test]
    fn answers_like_the_memory_store(ops in proptest::collection::vec(op(), 1..40)) {
        let memory = MemoryServerStore::new();
        let kv = kv_store();
        for op in &ops {
            let expected = send(&memory, request(op));
            let actual = send(&kv, request(op));
            prop_assert_eq!(&actual, &expected, "{:?}", op);
        }
        let (_, all) = block_on(kv.read_feed(Position(0), 10_000)).unwrap();
        prop_assert_eq!(all, memory.all_events());
    }
}
