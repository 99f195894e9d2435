//! [`MemoryStore`]: the event store in memory, for hosts without IndexedDB (edge workers,
//! Node) and for native tests. Same rules as the IndexedDB backend (see the module
//! docs of [`crate::store`]); nothing survives the process.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::retention::{self, Compacted, Held, Retention};
use super::{check_batch, resolve_retry, EventStore, Metrics, ReadOptions, StoredAt, StreamInfo};
use crate::env::{Environment, SystemEnvironment};
use crate::error::{Error, Result};
use crate::event::{
    AppendResult, Event, EventId, EventType, ExpectedVersion, IdGenerator, NewEvent, Position,
    StreamId, Tag, Version,
};
use crate::outbox::{BatchLimits, Failure, OutboxEntry};
use crate::protocol::{PushEvent, WireEvent};
use crate::query::{merge_ascending, AppendCondition, Query, QueryOptions};
use crate::sync::{
    plan_integration, Conflict, ConflictPolicy, DeadLetter, FeedCursor, Integrated,
    IntegrationPlan, PendingBatch, PendingCondition, Rechecked, SyncLocal,
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
    /// The global log; `log[i]` has position `i + 1`. `None`: the event moved to a
    /// later position (a sync rebase) or out of the stream (dead letter, quarantine).
    log: Vec<Option<Event<P>>>,
    /// Per stream: the log indexes of its events, in version order.
    streams: BTreeMap<StreamId, Vec<usize>>,
    by_id: HashMap<EventId, usize>,
    /// Per tag, per type: the log indexes of the events carrying it, ascending. Entries
    /// may point at emptied slots (events moved by a rebase); queries check every
    /// candidate against the query, so such entries only cost a lookup.
    by_tag: HashMap<Tag, Vec<usize>>,
    by_type: HashMap<EventType, Vec<usize>>,
    ids: IdGenerator,
    metrics: Metrics,
    closed: bool,
    /// Retention's floor: the slots below `floor - 1` were dropped (`None`), while the
    /// streams' index lists keep pointing at them (a stream's version is its list's length).
    floor: Position,
    /// Boxed: most memory stores never sync, and the JS API's store enum holds one.
    sync: Box<SyncState<P>>,
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
                by_tag: HashMap::new(),
                by_type: HashMap::new(),
                ids: IdGenerator::new(),
                metrics: Metrics::default(),
                closed: false,
                floor: Position(1),
                sync: Box::default(),
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
        condition: Option<&AppendCondition>,
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
                let event = state.log.get(index)?.as_ref()?;
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
        // Kept with the pending events for the server to check again at sync.
        let mut pending_condition = None;
        if let Some(condition) = condition {
            if let Err(e) = state.check_condition(stream, condition) {
                state.metrics.conflicts += 1;
                return Err(e);
            }
            pending_condition = Some(PendingCondition {
                local: condition.clone(),
                events: Vec::with_capacity(events.len()),
                server_after: state.sync.feed_cursor.pulled_through(),
                known: state.matching_ids(&condition.fail_if_events_match),
            });
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
            if let Some(c) = pending_condition.as_mut() {
                c.events.push(id.clone());
            }
            state.by_id.insert(id.clone(), index);
            indexes.push(index);
            index_event(
                &mut state.by_tag,
                &mut state.by_type,
                index,
                &event.event_type,
                &event.tags,
            );
            state.log.push(Some(Event {
                id,
                stream: stream.clone(),
                version: Version(first_version.0 + offset),
                position: Position(first_position.0 + offset),
                event_type: event.event_type,
                tags: event.tags,
                data: event.data,
                meta: event.meta,
                recorded_at: now,
                schema: event.schema,
            }));
        }
        state.sync.conditions.extend(pending_condition);
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

    async fn append_if(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        events: Vec<NewEvent<P>>,
    ) -> Result<AppendResult> {
        self.append_now(stream, expected, condition, events, 0)
    }

    async fn query(&self, query: &Query, options: QueryOptions) -> Result<Vec<Event<P>>> {
        self.with_open(|state| {
            let start =
                retention::check_from(state.floor, options.after.map(|a| Position(a.0 + 1)))?;
            let first = usize::try_from(start.0.saturating_sub(1)).unwrap_or(usize::MAX);
            let mut matching = state.matching(query, first);
            if options.backwards {
                matching.reverse();
            }
            let events: Vec<Event<P>> = matching.into_iter().take(options.limit).cloned().collect();
            state.metrics.events_read += events.len() as u64;
            Ok(events)
        })?
    }

    async fn read(&self, stream: &StreamId, options: ReadOptions) -> Result<Vec<Event<P>>> {
        self.with_open(|state| {
            let indexes = state.streams.get(stream).map_or(&[][..], Vec::as_slice);
            let held_from = state.held_from(indexes);
            let head = Version(indexes.len() as u64);
            let Some((low, high)) =
                retention::stream_range(&options, head, held_from, state.floor, stream)?
            else {
                return Ok(Vec::new());
            };
            let range = indexes.get(low.0 as usize - 1..high.0 as usize).unwrap_or(&[]);
            let mut events: Vec<Event<P>> =
                range.iter().filter_map(|&i| state.log.get(i).cloned().flatten()).collect();
            if options.direction == super::Direction::Backward {
                events.reverse();
            }
            state.metrics.events_read += events.len() as u64;
            Ok(events)
        })?
    }

    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<P>>> {
        self.with_open(|state| {
            retention::check_from(state.floor, Some(from))?;
            let start = usize::try_from(from.0.saturating_sub(1)).unwrap_or(usize::MAX);
            let events: Vec<Event<P>> =
                state.log.iter().skip(start).flatten().take(limit).cloned().collect();
            state.metrics.events_read += events.len() as u64;
            Ok(events)
        })?
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
                    // From the index alone: the last event may have been dropped.
                    Some(StreamInfo {
                        stream: stream.clone(),
                        version: Version(indexes.len() as u64),
                        last_position: Position(*indexes.last()? as u64 + 1),
                        synced_version: state.synced(stream),
                    })
                })
                .collect()
        })
    }

    async fn compact(&self, retention: &Retention) -> Result<Compacted> {
        self.compact_now(retention)
    }

    async fn floor(&self) -> Result<Position> {
        self.with_open(|state| state.floor)
    }

    fn metrics(&self) -> Metrics {
        self.state.borrow().metrics
    }

    fn close(&self) {
        self.state.borrow_mut().closed = true;
    }
}

impl<P: Clone, E: Environment> MemoryStore<P, E> {
    /// Retention's floor (no metrics counted): the lowest position held.
    pub fn floor_now(&self) -> Position {
        self.state.borrow().floor
    }

    /// [`EventStore::compact`], synchronously: finds the new floor
    /// ([`retention::new_floor`]) and drops the events below it, freeing their payloads.
    pub fn compact_now(&self, retention: &Retention) -> Result<Compacted> {
        let now = self.env.now_ms();
        let mut state = self.state.borrow_mut();
        if state.closed {
            return Err(Error::Closed);
        }
        let held = state.held(retention, now);
        let floor = retention::new_floor(retention, &held);
        let dropped = state.drop_below(floor);
        Ok(Compacted { dropped, from: floor })
    }
}

// ---- the sync side (crate::sync::SyncLocal) ---------------------------------------------

/// Sync bookkeeping of a memory store.
#[derive(Debug)]
struct SyncState<P> {
    /// Per stream: the prefix the server confirmed.
    synced: HashMap<StreamId, Version>,
    outbox: HashMap<StreamId, OutboxEntry>,
    dead_letters: Vec<DeadLetter<P>>,
    conflicts: Vec<Conflict<P>>,
    /// The conditions of pending conditional appends.
    conditions: Vec<PendingCondition>,
    next_id: u64,
    feed_cursor: FeedCursor,
}

impl<P> Default for SyncState<P> {
    fn default() -> Self {
        SyncState {
            synced: HashMap::new(),
            outbox: HashMap::new(),
            dead_letters: Vec::new(),
            conflicts: Vec::new(),
            conditions: Vec::new(),
            next_id: 1,
            feed_cursor: FeedCursor::default(),
        }
    }
}

fn push_event<P: Clone>(event: &Event<P>) -> PushEvent<P> {
    PushEvent {
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        tags: event.tags.clone(),
        data: event.data.clone(),
        meta: event.meta.clone(),
        recorded_at: event.recorded_at,
        schema: event.schema,
    }
}

/// Adds the event at log `index` to the tag and type indexes.
fn index_event(
    by_tag: &mut HashMap<Tag, Vec<usize>>,
    by_type: &mut HashMap<EventType, Vec<usize>>,
    index: usize,
    event_type: &EventType,
    tags: &[Tag],
) {
    for tag in tags {
        by_tag.entry(tag.clone()).or_default().push(index);
    }
    by_type.entry(event_type.clone()).or_default().push(index);
}

/// The entries of an ascending index list from log index `first` on.
fn from_index(list: &[usize], first: usize) -> &[usize] {
    &list[list.partition_point(|&i| i < first)..]
}

impl<P: Clone> State<P> {
    /// The lowest held version of the stream whose log indexes are `indexes` (its
    /// version + 1 when none is held).
    fn held_from(&self, indexes: &[usize]) -> Version {
        let first = usize::try_from(self.floor.0 - 1).unwrap_or(usize::MAX);
        Version(indexes.partition_point(|&i| i < first) as u64 + 1)
    }

    /// What retention needs to know of the held events.
    fn held(&self, retention: &Retention, now: u64) -> Held {
        let first = usize::try_from(self.floor.0 - 1).unwrap_or(usize::MAX);
        let held = || self.log.iter().skip(first).flatten();
        let nth_newest = match retention.events {
            Some(n) if n > 0 => {
                held().rev().nth(usize::try_from(n - 1).unwrap_or(usize::MAX)).map(|e| e.position)
            }
            _ => None,
        };
        let first_young = retention.ms.and_then(|ms| {
            held().find(|e| e.recorded_at > now.saturating_sub(ms)).map(|e| e.position)
        });
        let oldest_pending = if retention.keep_pending {
            self.streams.keys().filter_map(|s| Some(self.pending(s).first()?.position)).min()
        } else {
            None
        };
        Held {
            floor: self.floor,
            next: Position(self.log.len() as u64 + 1),
            nth_newest,
            first_young,
            oldest_pending,
        }
    }

    /// Drops the held events below `floor` (their slots empty; the streams' index lists
    /// keep their length, so versions stay) and raises the floor; returns how many went.
    fn drop_below(&mut self, floor: Position) -> u64 {
        let (from, to) = (self.floor.0 as usize - 1, (floor.0 as usize - 1).min(self.log.len()));
        let mut dropped = 0;
        for slot in self.log.iter_mut().take(to).skip(from) {
            if let Some(event) = slot.take() {
                self.by_id.remove(&event.id);
                dropped += 1;
            }
        }
        for list in self.by_tag.values_mut().chain(self.by_type.values_mut()) {
            list.drain(..list.partition_point(|&i| i < to));
        }
        self.floor = self.floor.max(floor);
        dropped
    }

    /// The events matching `query` from log index `first` on (position `first + 1`), in
    /// position order. Each item is looked up in its most selective index (its rarest tag;
    /// without tags, its types), so the cost follows the candidates, not the log.
    fn matching(&self, query: &Query, first: usize) -> Vec<&Event<P>> {
        let items = match query {
            Query::All => return self.log.iter().skip(first).flatten().collect(),
            Query::Items(items) => items,
        };
        let mut candidates: Vec<usize> = Vec::new();
        for item in items {
            let rarest = item
                .tags()
                .iter()
                .map(|t| self.by_tag.get(t).map_or(&[][..], Vec::as_slice))
                .min_by_key(|list| list.len());
            match rarest {
                Some(list) => candidates = merge_ascending(candidates, from_index(list, first)),
                None => {
                    for t in item.types() {
                        let list = self.by_type.get(t).map_or(&[][..], Vec::as_slice);
                        candidates = merge_ascending(candidates, from_index(list, first));
                    }
                }
            }
        }
        candidates
            .into_iter()
            .filter_map(|i| self.log.get(i)?.as_ref())
            .filter(|e| query.matches_event(e))
            .collect()
    }

    /// [`AppendCondition::check`] over the log: the first matching event after the
    /// condition's position fails it.
    fn check_condition(&self, stream: &StreamId, condition: &AppendCondition) -> Result<()> {
        let first = usize::try_from(condition.first_position().0 - 1).unwrap_or(usize::MAX);
        match self.matching(&condition.fail_if_events_match, first).first() {
            Some(event) => condition.check(stream, event),
            None => Ok(()),
        }
    }

    /// The ids of every event matching `query`, in position order.
    fn matching_ids(&self, query: &Query) -> Vec<EventId> {
        self.matching(query, 0).into_iter().map(|e| e.id.clone()).collect()
    }

    /// Whether the event `id` is local and pending.
    fn is_pending(&self, id: &EventId) -> bool {
        let Some(event) = self.by_id.get(id).and_then(|&i| self.log.get(i)?.as_ref()) else {
            return false;
        };
        event.version > self.synced(&event.stream)
    }

    /// Forgets the conditions whose appends are no longer pending (pushed, dead-lettered,
    /// quarantined).
    fn prune_conditions(&mut self) {
        let mut conditions = std::mem::take(&mut self.sync.conditions);
        conditions.retain(|c| c.events.first().is_some_and(|id| self.is_pending(id)));
        self.sync.conditions = conditions;
    }

    /// Takes the pending events `ids` out of `stream` (later pending events move down to
    /// close the gap); returns them in version order.
    fn take_pending(&mut self, stream: &StreamId, ids: &[EventId]) -> Vec<Event<P>> {
        let synced = self.synced(stream);
        let tail = self.take_tail(stream, Version(synced.0 + 1));
        let (taken, keep): (Vec<Event<P>>, Vec<Event<P>>) =
            tail.into_iter().partition(|e| ids.contains(&e.id));
        for e in keep {
            self.push(stream, e.into());
        }
        taken
    }

    fn head(&self, stream: &StreamId) -> Version {
        Version(self.streams.get(stream).map_or(0, |v| v.len() as u64))
    }

    fn synced(&self, stream: &StreamId) -> Version {
        self.sync.synced.get(stream).copied().unwrap_or_default()
    }

    /// The stream's pending events (after its synced version), in version order.
    fn pending(&self, stream: &StreamId) -> Vec<&Event<P>> {
        let synced = self.synced(stream).0 as usize;
        self.streams
            .get(stream)
            .map(|indexes| {
                indexes.iter().skip(synced).filter_map(|&i| self.log.get(i)?.as_ref()).collect()
            })
            .unwrap_or_default()
    }

    /// Removes the stream's events from `version` on; returns them in version order.
    fn take_tail(&mut self, stream: &StreamId, version: Version) -> Vec<Event<P>> {
        let keep = version.0.saturating_sub(1) as usize;
        let Some(indexes) = self.streams.get_mut(stream) else { return Vec::new() };
        let tail: Vec<usize> = indexes.drain(keep.min(indexes.len())..).collect();
        tail.into_iter()
            .filter_map(|i| {
                let event = self.log.get_mut(i)?.take()?;
                self.by_id.remove(&event.id);
                Some(event)
            })
            .collect()
    }

    /// Appends an event at the stream's next version and the log's next position. Takes
    /// the fields, not an event: pushed, wire and stored events all come through here.
    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, stream: &StreamId, event: PushEvent<P>) {
        let PushEvent { id, event_type, tags, data, meta, recorded_at, schema } = event;
        let index = self.log.len();
        let version = Version(self.head(stream).0 + 1);
        self.by_id.insert(id.clone(), index);
        self.streams.entry(stream.clone()).or_default().push(index);
        index_event(&mut self.by_tag, &mut self.by_type, index, &event_type, &tags);
        self.log.push(Some(Event {
            id,
            stream: stream.clone(),
            version,
            position: Position(index as u64 + 1),
            event_type,
            tags,
            data,
            meta,
            recorded_at,
            schema,
        }));
    }

    fn next_sync_id(&mut self) -> u64 {
        let id = self.sync.next_id;
        self.sync.next_id += 1;
        id
    }
}

impl<P: Clone, E: Environment> MemoryStore<P, E> {
    /// The dead letters, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter<P>> {
        self.state.borrow().sync.dead_letters.clone()
    }

    /// The quarantined conflicts, oldest first.
    pub fn conflicts(&self) -> Vec<Conflict<P>> {
        self.state.borrow().sync.conflicts.clone()
    }

    /// Appends a dead letter's events again (same ids) at the end of its stream, pending;
    /// removes it from the list. Returns whether it existed.
    pub fn retry_dead_letter(&self, id: u64) -> Result<bool> {
        let mut state = self.state.borrow_mut();
        let Some(index) = state.sync.dead_letters.iter().position(|d| d.id == id) else {
            return Ok(false);
        };
        let letter = state.sync.dead_letters.remove(index);
        for e in letter.events {
            state.push(&letter.stream, e);
        }
        Ok(true)
    }

    /// Drops a dead letter for good. Returns whether it existed.
    pub fn discard_dead_letter(&self, id: u64) -> bool {
        let mut state = self.state.borrow_mut();
        let before = state.sync.dead_letters.len();
        state.sync.dead_letters.retain(|d| d.id != id);
        before != state.sync.dead_letters.len()
    }

    /// Settles a quarantined conflict: `events` (e.g. the local ones, or corrected ones)
    /// are appended to the stream as pending; the conflict leaves the list.
    pub fn settle_conflict(&self, id: u64, events: Vec<PushEvent<P>>) -> Result<bool> {
        let mut state = self.state.borrow_mut();
        let Some(index) = state.sync.conflicts.iter().position(|c| c.id == id) else {
            return Ok(false);
        };
        let conflict = state.sync.conflicts.remove(index);
        for e in events {
            if state.by_id.contains_key(&e.id) {
                continue;
            }
            state.push(&conflict.stream, e);
        }
        Ok(true)
    }
}

impl<P: Clone, E: Environment> SyncLocal for MemoryStore<P, E> {
    type Payload = P;

    async fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let state = self.state.borrow();
        let mut entries: Vec<(Position, OutboxEntry)> = state
            .streams
            .keys()
            .filter_map(|stream| {
                let first = state.pending(stream).first()?.position;
                let entry = state
                    .sync
                    .outbox
                    .get(stream)
                    .cloned()
                    .unwrap_or_else(|| OutboxEntry::new(stream.clone()));
                Some((first, entry))
            })
            .collect();
        entries.sort_by_key(|(first, _)| *first);
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    }

    async fn save_outbox_entry(&self, entry: &OutboxEntry) -> Result<()> {
        self.state.borrow_mut().sync.outbox.insert(entry.stream.clone(), entry.clone());
        Ok(())
    }

    async fn pending_batch(
        &self,
        stream: &StreamId,
        limits: BatchLimits,
    ) -> Result<Option<PendingBatch<P>>> {
        let state = self.state.borrow();
        let pending = state.pending(stream);
        let n = limits.take(pending.iter().map(|_| 0));
        if n == 0 {
            return Ok(None);
        }
        let events: Vec<PushEvent<P>> = pending.iter().take(n).map(|e| push_event(e)).collect();
        Ok(Some(PendingBatch {
            stream: stream.clone(),
            base_version: state.synced(stream),
            conditions: PendingCondition::for_batch(&state.sync.conditions, &events),
            events,
        }))
    }

    async fn acknowledge(&self, stream: &StreamId, version: Version) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let through = version.min(state.head(stream)).max(state.synced(stream));
        state.sync.synced.insert(stream.clone(), through);
        if state.pending(stream).is_empty() {
            state.sync.outbox.remove(stream);
        }
        state.prune_conditions();
        Ok(())
    }

    async fn integrate(
        &self,
        stream: &StreamId,
        remote: Vec<WireEvent<P>>,
        policy: ConflictPolicy,
    ) -> Result<Integrated> {
        let mut state = self.state.borrow_mut();
        let synced = state.synced(stream);
        let pending_ids: Vec<EventId> =
            state.pending(stream).iter().map(|e| e.id.clone()).collect();
        let remote_keys: Vec<(EventId, Version)> =
            remote.iter().map(|e| (e.id.clone(), e.version)).collect();
        let mut done = Integrated::default();
        match plan_integration(synced, &pending_ids, &remote_keys) {
            IntegrationPlan::Nothing => {}
            IntegrationPlan::Gap => done.gap = true,
            IntegrationPlan::Acknowledge { through } => {
                done.acknowledged = (through.0 - synced.0) as usize;
                state.sync.synced.insert(stream.clone(), through);
            }
            IntegrationPlan::Append { first } => {
                for e in remote.into_iter().skip(first) {
                    state.push(stream, e.into());
                    done.inserted += 1;
                }
                let head = state.head(stream);
                state.sync.synced.insert(stream.clone(), head);
            }
            IntegrationPlan::Rewrite { first, remaining } => {
                let pending = state.take_tail(stream, Version(synced.0 + 1));
                let fresh: Vec<WireEvent<P>> = remote.into_iter().skip(first).collect();
                for e in fresh.iter().cloned() {
                    if !pending_ids.contains(&e.id) {
                        done.inserted += 1;
                    } else {
                        done.acknowledged += 1;
                    }
                    state.push(stream, e.into());
                }
                let head = state.head(stream);
                state.sync.synced.insert(stream.clone(), head);
                let left: Vec<Event<P>> =
                    remaining.iter().filter_map(|&i| pending.get(i).cloned()).collect();
                match policy {
                    ConflictPolicy::Rebase => {
                        done.rebased = left.len();
                        for e in left {
                            state.push(stream, e.into());
                        }
                    }
                    ConflictPolicy::Quarantine | ConflictPolicy::Resolve => {
                        done.quarantined = left.len();
                        if !left.is_empty() {
                            let id = state.next_sync_id();
                            let detected_at = self.env.now_ms();
                            state.sync.conflicts.push(Conflict {
                                id,
                                stream: stream.clone(),
                                local: left.iter().map(push_event).collect(),
                                remote: fresh,
                                condition: None,
                                detected_at,
                            });
                        }
                    }
                }
                if state.pending(stream).is_empty() {
                    state.sync.outbox.remove(stream);
                }
            }
        }
        state.prune_conditions();
        Ok(done)
    }

    async fn dead_letter(
        &self,
        stream: &StreamId,
        ids: &[EventId],
        failure: Failure,
    ) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let dead = state.take_pending(stream, ids);
        state.prune_conditions();
        if !dead.is_empty() {
            let id = state.next_sync_id();
            let failed_at = self.env.now_ms();
            state.sync.dead_letters.push(DeadLetter {
                id,
                stream: stream.clone(),
                events: dead.iter().map(push_event).collect(),
                failure,
                failed_at,
            });
        }
        if state.pending(stream).is_empty() {
            state.sync.outbox.remove(stream);
        }
        Ok(())
    }

    async fn recheck_condition(
        &self,
        stream: &StreamId,
        anchor: &EventId,
        matched: &EventId,
        policy: ConflictPolicy,
    ) -> Result<Rechecked> {
        let mut state = self.state.borrow_mut();
        state.prune_conditions();
        let Some(index) =
            state.sync.conditions.iter().position(|c| c.events.first() == Some(anchor))
        else {
            return Ok(Rechecked::Gone);
        };
        let condition = state.sync.conditions[index].clone();
        let query = &condition.local.fail_if_events_match;
        let matching = state.matching(query, 0);
        let holds = condition.holds_after_refusal(matching.iter().map(|e| &e.id), matched);
        let unseen: Vec<Event<P>> =
            matching.into_iter().filter(|e| !condition.saw(&e.id)).cloned().collect();
        if holds && policy == ConflictPolicy::Rebase {
            let known = state.matching_ids(query);
            let pulled_through = state.sync.feed_cursor.pulled_through();
            state.sync.conditions[index].refresh(known, pulled_through);
            return Ok(Rechecked::Holds);
        }
        let taken = state.take_pending(stream, &condition.events);
        state.prune_conditions();
        let id = state.next_sync_id();
        let detected_at = self.env.now_ms();
        state.sync.conflicts.push(Conflict {
            id,
            stream: stream.clone(),
            local: taken.iter().map(push_event).collect(),
            remote: unseen,
            condition: Some(condition.local),
            detected_at,
        });
        if state.pending(stream).is_empty() {
            state.sync.outbox.remove(stream);
        }
        Ok(Rechecked::Conflicted(taken.len()))
    }

    async fn synced_version(&self, stream: &StreamId) -> Result<Version> {
        Ok(self.state.borrow().synced(stream))
    }

    async fn feed_cursor(&self) -> Result<FeedCursor> {
        Ok(self.state.borrow().sync.feed_cursor.clone())
    }

    async fn set_feed_cursor(&self, cursor: &FeedCursor) -> Result<()> {
        self.state.borrow_mut().sync.feed_cursor = cursor.clone();
        Ok(())
    }
}

// ---- the file store's access (store::file) ------------------------------------------------
// At the end of the file, so the browser build's panic locations (line numbers) stay put.

#[cfg(feature = "file")]
impl<P: Clone, E: Environment> MemoryStore<P, E> {
    /// Puts the events of one append read back from storage (one stream, in position
    /// order) into the log with their stored fields: the file store's recovery. Each must
    /// be the log's next position and its stream's next version, with an id not seen
    /// before; anything else is an [`Error::Storage`] named `"Corrupted"` (the storage
    /// holds something this store never wrote), and the store must be dropped.
    pub(crate) fn restore(&self, events: Vec<Event<P>>) -> Result<()> {
        use std::collections::hash_map::Entry;
        let corrupted = |message: String| Err(Error::storage("Corrupted", message));
        let Some(stream) = events.first().map(|e| e.stream.clone()) else { return Ok(()) };
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let indexes = state.streams.entry(stream.clone()).or_default();
        for event in events {
            let index = state.log.len();
            let (position, version) = (index as u64 + 1, indexes.len() as u64 + 1);
            if event.position.0 != position || event.version.0 != version || event.stream != stream
            {
                return corrupted(format!(
                    "event {} is stored at position {} (version {} of {}), expected position {position} (version {version} of {stream})",
                    event.id, event.position, event.version, event.stream
                ));
            }
            match state.by_id.entry(event.id.clone()) {
                Entry::Occupied(_) => {
                    return corrupted(format!(
                        "event id {} is stored twice (position {position})",
                        event.id
                    ))
                }
                Entry::Vacant(slot) => slot.insert(index),
            };
            state.ids.observe(&event.id);
            indexes.push(index);
            index_event(
                &mut state.by_tag,
                &mut state.by_type,
                index,
                &event.event_type,
                &event.tags,
            );
            state.log.push(Some(event));
        }
        Ok(())
    }

    /// Starts an empty index at a compacted log's floor: the positions below it and each
    /// stream's dropped versions exist as dropped slots, so positions and versions go on
    /// where they were. Anything but an empty index is [`Error::Storage`] `"Corrupted"`.
    pub(crate) fn restore_floor(&self, floor: &super::file::format::Floor) -> Result<()> {
        let mut state = self.state.borrow_mut();
        if !state.log.is_empty() || floor.floor.0 == 0 {
            return Err(Error::storage(
                "Corrupted",
                format!("a floor frame ({}) after events, or at position 0", floor.floor),
            ));
        }
        let below = usize::try_from(floor.floor.0 - 1).unwrap_or(usize::MAX);
        state.log.resize_with(below, || None);
        for (stream, dropped, last) in &floor.streams {
            let slot = usize::try_from(last.0.saturating_sub(1)).unwrap_or(usize::MAX).min(below);
            let count = usize::try_from(dropped.0).unwrap_or(usize::MAX);
            state.streams.insert(stream.clone(), vec![slot; count]);
        }
        state.floor = floor.floor;
        Ok(())
    }

    /// The floor and each stream's dropped prefix, as a compacted log starts.
    pub(crate) fn floor_record(&self) -> super::file::format::Floor {
        let state = self.state.borrow();
        let streams = state
            .streams
            .iter()
            .filter_map(|(stream, indexes)| {
                let dropped = state.held_from(indexes).0 - 1;
                let last = *indexes.get(usize::try_from(dropped).ok()?.checked_sub(1)?)?;
                Some((stream.clone(), Version(dropped), Position(last as u64 + 1)))
            })
            .collect();
        super::file::format::Floor { floor: state.floor, streams }
    }

    /// Closes the store and frees its events and indexes (the file store's `close`: its
    /// events are on disk, and a closed store is never read again).
    pub(crate) fn close_and_free(&self) {
        let mut state = self.state.borrow_mut();
        state.log = Vec::new();
        state.streams = BTreeMap::new();
        state.by_id = HashMap::new();
        state.by_tag = HashMap::new();
        state.by_type = HashMap::new();
        state.closed = true;
    }

    /// The events after position `after`, in position order (no metrics counted): what
    /// the last append wrote, for the file store to persist.
    pub(crate) fn events_after(&self, after: Position) -> Vec<Event<P>> {
        let state = self.state.borrow();
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        state.log.iter().skip(start).flatten().cloned().collect()
    }

    /// Takes back the last append, which wrote the events after position `after` and
    /// `bytes` payload bytes: the file store could not persist it.
    pub(crate) fn undo_append(&self, after: Position, bytes: u64) {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let keep = usize::try_from(after.0).unwrap_or(usize::MAX).min(state.log.len());
        let removed: Vec<Event<P>> = state.log.drain(keep..).flatten().collect();
        for event in &removed {
            state.by_id.remove(&event.id);
            for tag in &event.tags {
                if let Some(list) = state.by_tag.get_mut(tag) {
                    list.retain(|&i| i < keep);
                }
            }
            if let Some(list) = state.by_type.get_mut(&event.event_type) {
                list.retain(|&i| i < keep);
            }
            if let Some(indexes) = state.streams.get_mut(&event.stream) {
                indexes.retain(|&i| i < keep);
                if indexes.is_empty() {
                    state.streams.remove(&event.stream);
                }
            }
        }
        state.metrics.appends = state.metrics.appends.saturating_sub(1);
        state.metrics.events_written =
            state.metrics.events_written.saturating_sub(removed.len() as u64);
        state.metrics.bytes_written = state.metrics.bytes_written.saturating_sub(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::store::conformance::{self, Payloads};
    use crate::test_util::block_on;
    use proptest::prelude::*;

    #[test]
    fn memory_store_passes_the_conformance_suite() {
        let payloads = Payloads::<u32> { make: |n| n, tag: |p| Some(*p) };
        let results =
            block_on(conformance::run_all(|| async { MemoryStore::<u32>::new() }, &payloads));
        assert_eq!(results.len(), 12);
        let failures: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    /// A clock the test moves.
    struct Clock(std::cell::Cell<u64>);
    impl Environment for std::rc::Rc<Clock> {
        fn now_ms(&self) -> u64 {
            self.0.get()
        }
        fn random_bytes(&self) -> [u8; 10] {
            [7; 10]
        }
    }

    #[test]
    fn retention_by_age_and_never_the_pending_events() {
        let clock = std::rc::Rc::new(Clock(std::cell::Cell::new(1_000_000)));
        let store = MemoryStore::<u32, _>::with_environment(clock.clone());
        let s = StreamId::new("s").unwrap();
        let t = |n| NewEvent::new(EventType::new("T").unwrap(), n);
        for n in 1..=6u32 {
            store.append_now(&s, ExpectedVersion::Any, None, vec![t(n)], 0).unwrap();
            clock.0.set(clock.0.get() + 1_000);
        }
        // Recorded at 1_000_000 + (n - 1) * 1000; now 1_006_000: the last 2.5 s are 5, 6.
        let by_age = Retention { events: None, ms: Some(2_500), keep_pending: false };
        assert_eq!(
            store.compact_now(&by_age).unwrap(),
            Compacted { dropped: 4, from: Position(5) }
        );
        // An event stays when either bound keeps it: 3 newest (fewer are held) or 1.5 s.
        let both = Retention { events: Some(3), ms: Some(1_500), keep_pending: false };
        assert_eq!(store.compact_now(&both).unwrap(), Compacted { dropped: 0, from: Position(5) });

        // A syncing store: the server acknowledged versions 1..=7 of 9; 8 and 9 pending.
        for n in 7..=9u32 {
            store.append_now(&s, ExpectedVersion::Any, None, vec![t(n)], 0).unwrap();
        }
        block_on(store.acknowledge(&s, Version(7))).unwrap();
        let keep1 = Retention { events: Some(1), ms: None, keep_pending: true };
        assert_eq!(store.compact_now(&keep1).unwrap(), Compacted { dropped: 3, from: Position(8) });
        let pending = block_on(store.pending_batch(&s, BatchLimits::default())).unwrap().unwrap();
        assert_eq!(pending.events.len(), 2, "pending events stay");
        assert_eq!(block_on(store.version(&s)).unwrap(), Version(9));
        // Once acknowledged, they may go.
        block_on(store.acknowledge(&s, Version(9))).unwrap();
        assert_eq!(store.compact_now(&keep1).unwrap(), Compacted { dropped: 1, from: Position(9) });
        assert_eq!(block_on(store.streams()).unwrap()[0].last_position, Position(9));
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
