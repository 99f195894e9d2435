//! [`MemoryStore`]: the event store in memory, for hosts without IndexedDB (edge workers,
//! Node) and for native tests. Same rules as the IndexedDB backend (see the module
//! docs of [`crate::store`]); nothing survives the process.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::{
    check_batch, resolve_retry, Environment, EventStore, Metrics, ReadOptions, StoredAt,
    StreamInfo, SystemEnvironment,
};
use crate::error::{Error, Result};
use crate::event::{
    AppendResult, Event, EventId, ExpectedVersion, IdGenerator, NewEvent, Position, StreamId,
    Version,
};

/// An in-memory [`EventStore`] over payloads of type `P`.
///
/// Single-threaded by design (interior mutability through `RefCell`), like everything
/// on wasm32. Appends never hold a borrow across an await point.
#[derive(Debug)]
pub struct MemoryStore<P, E = SystemEnvironment> {
    state: RefCell<State<P>>,
    env: E,
}

#[derive(Debug)]
struct State<P> {
    /// The global log; `log[i]` has position `i + 1`.
    log: Vec<Event<P>>,
    /// Per stream: the log indexes of its events, in version order.
    streams: BTreeMap<StreamId, Vec<usize>>,
    by_id: HashMap<EventId, usize>,
    ids: IdGenerator,
    metrics: Metrics,
    closed: bool,
}

impl<P: Clone> MemoryStore<P, SystemEnvironment> {
    /// An empty store using the system clock and random source.
    pub fn new() -> Self {
        Self::with_environment(SystemEnvironment)
    }
}

impl<P: Clone> Default for MemoryStore<P, SystemEnvironment> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Clone, E: Environment> MemoryStore<P, E> {
    /// An empty store with an injected clock and random source.
    pub fn with_environment(env: E) -> Self {
        MemoryStore {
            state: RefCell::new(State {
                log: Vec::new(),
                streams: BTreeMap::new(),
                by_id: HashMap::new(),
                ids: IdGenerator::new(),
                metrics: Metrics::default(),
                closed: false,
            }),
            env,
        }
    }

    /// Appends synchronously (the async trait method is a thin wrapper): the whole
    /// operation runs under one borrow, which is what makes it atomic.
    pub fn append_now(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent<P>>,
        bytes: u64,
    ) -> Result<AppendResult> {
        check_batch(&events)?;
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        if state.closed {
            return Err(Error::Closed);
        }
        let head = Version(state.streams.get(stream).map_or(0, |v| v.len() as u64));

        let ids: Vec<Option<EventId>> = events.iter().map(|e| e.id.clone()).collect();
        let found: Vec<Option<StoredAt>> = ids
            .iter()
            .map(|id| {
                let index = *state.by_id.get(id.as_ref()?)?;
                let event = state.log.get(index)?;
                Some(StoredAt {
                    stream: event.stream.clone(),
                    version: event.version,
                    position: event.position,
                })
            })
            .collect();
        if let Some(original) = resolve_retry(stream, &ids, &found)? {
            state.metrics.idempotent_appends += 1;
            return Ok(original);
        }
        if !expected.accepts(head) {
            state.metrics.conflicts += 1;
            return Err(Error::VersionConflict { stream: stream.clone(), expected, actual: head });
        }

        let count = events.len() as u64;
        let first_version = head.next()?;
        let last_version = head.plus(count)?;
        let first_position = Position(state.log.len() as u64).next()?;
        let last_position = Position(state.log.len() as u64).plus(count)?;
        let now = self.env.now_ms();
        let indexes = state.streams.entry(stream.clone()).or_default();
        for (offset, event) in (0u64..).zip(events) {
            let id = match event.id {
                Some(id) => id,
                None => state.ids.next_id(now, self.env.random_bytes()),
            };
            let index = state.log.len();
            state.by_id.insert(id.clone(), index);
            indexes.push(index);
            state.log.push(Event {
                id,
                stream: stream.clone(),
                version: Version(first_version.0 + offset),
                position: Position(first_position.0 + offset),
                event_type: event.event_type,
                data: event.data,
                meta: event.meta,
                recorded_at: now,
                schema: event.schema,
            });
        }
        state.metrics.appends += 1;
        state.metrics.events_written += count;
        state.metrics.bytes_written += bytes;
        Ok(AppendResult {
            stream: stream.clone(),
            first_version,
            last_version,
            first_position,
            last_position,
        })
    }

    /// The last global position written (`Position(0)` for an empty log).
    pub fn head_position(&self) -> Result<Position> {
        self.with_open(|state| Position(state.log.len() as u64))
    }

    /// Whether [`EventStore::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    fn with_open<T>(&self, f: impl FnOnce(&mut State<P>) -> T) -> Result<T> {
        let mut state = self.state.borrow_mut();
        if state.closed {
            return Err(Error::Closed);
        }
        state.metrics.reads += 1;
        Ok(f(&mut state))
    }
}

impl<P: Clone, E: Environment> EventStore for MemoryStore<P, E> {
    type Payload = P;

    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent<P>>,
    ) -> Result<AppendResult> {
        self.append_now(stream, expected, events, 0)
    }

    async fn read(&self, stream: &StreamId, options: ReadOptions) -> Result<Vec<Event<P>>> {
        self.with_open(|state| {
            let indexes = state.streams.get(stream).map_or(&[][..], Vec::as_slice);
            let Some((low, high)) = options.version_range(Version(indexes.len() as u64)) else {
                return Vec::new();
            };
            let range = indexes.get(low.0 as usize - 1..high.0 as usize).unwrap_or(&[]);
            let mut events: Vec<Event<P>> =
                range.iter().filter_map(|&i| state.log.get(i).cloned()).collect();
            if options.direction == super::Direction::Backward {
                events.reverse();
            }
            state.metrics.events_read += events.len() as u64;
            events
        })
    }

    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<P>>> {
        self.with_open(|state| {
            let start = usize::try_from(from.0.saturating_sub(1)).unwrap_or(usize::MAX);
            let events: Vec<Event<P>> =
                state.log.iter().skip(start).take(limit).cloned().collect();
            state.metrics.events_read += events.len() as u64;
            events
        })
    }

    async fn version(&self, stream: &StreamId) -> Result<Version> {
        self.with_open(|state| Version(state.streams.get(stream).map_or(0, |v| v.len() as u64)))
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.with_open(|state| {
            state
                .streams
                .iter()
                .filter_map(|(stream, indexes)| {
                    let last = state.log.get(*indexes.last()?)?;
                    Some(StreamInfo {
                        stream: stream.clone(),
                        version: last.version,
                        last_position: last.position,
                    })
                })
                .collect()
        })
    }

    fn metrics(&self) -> Metrics {
        self.state.borrow().metrics
    }

    fn close(&self) {
        self.state.borrow_mut().closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::store::conformance::{self, Payloads};
    use proptest::prelude::*;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// Drives a future that never waits on I/O (every memory-store future).
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        let payloads = Payloads::<u32> { make: |n| n, tag: |p| Some(*p) };
        let results = block_on(conformance::run_all(|| async { MemoryStore::<u32>::new() }, &payloads));
        assert_eq!(results.len(), 8);
        let failures: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Append { stream: u8, expected: Option<u8>, count: u8, ids: bool },
        Retry(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..4, proptest::option::of(0u8..6), 1u8..5, any::<bool>())
                .prop_map(|(stream, expected, count, ids)| Op::Append { stream, expected, count, ids }),
            1 => (0usize..64).prop_map(Op::Retry),
        ]
    }

    proptest! {
        /// Whatever mix of appends, conflicts and retries: versions are contiguous per
        /// stream, positions contiguous globally, no event id stored twice, and a retry
        /// returns exactly its original result.
        #[test]
        fn invariants_hold_for_any_history(ops in proptest::collection::vec(op(), 1..60)) {
            let store = MemoryStore::<u32>::new();
            let mut done: Vec<(StreamId, Vec<NewEvent<u32>>, AppendResult)> = Vec::new();
            let mut next_id = 0u32;
            for op in ops {
                match op {
                    Op::Append { stream, expected, count, ids } => {
                        let s = StreamId::new(format!("s{stream}")).unwrap();
                        let batch: Vec<NewEvent<u32>> = (0..count).map(|_| {
                            next_id += 1;
                            let e = NewEvent::new(EventType::new("T").unwrap(), next_id);
                            if ids { e.with_id(EventId::new(format!("id-{next_id}")).unwrap()) } else { e }
                        }).collect();
                        let expected = expected.map_or(ExpectedVersion::Any, |v| ExpectedVersion::Exact(Version(v.into())));
                        let before = block_on(store.version(&s)).unwrap();
                        match block_on(store.append(&s, expected, batch.clone())) {
                            Ok(r) => {
                                prop_assert!(expected.accepts(before));
                                prop_assert_eq!(r.first_version, before.next().unwrap());
                                if ids { done.push((s, batch, r)); }
                            }
                            Err(Error::VersionConflict { actual, .. }) => {
                                prop_assert_eq!(actual, before);
                                prop_assert!(!expected.accepts(before));
                            }
                            Err(e) => prop_assert!(false, "unexpected {e}"),
                        }
                    }
                    Op::Retry(i) => {
                        if let Some((s, batch, original)) = done.get(i % done.len().max(1)) {
                            let again = block_on(store.append(s, ExpectedVersion::Exact(Version(0)), batch.clone())).unwrap();
                            prop_assert_eq!(&again, original);
                        }
                    }
                }
            }
            let log = block_on(store.read_all(Position(0), usize::MAX)).unwrap();
            let mut ids = std::collections::HashSet::new();
            let mut per_stream: BTreeMap<StreamId, u64> = BTreeMap::new();
            for (i, e) in log.iter().enumerate() {
                prop_assert_eq!(e.position.0, i as u64 + 1);
                prop_assert!(ids.insert(e.id.clone()), "duplicate id {}", e.id);
                let v = per_stream.entry(e.stream.clone()).or_default();
                *v += 1;
                prop_assert_eq!(e.version.0, *v);
            }
        }
    }
}
