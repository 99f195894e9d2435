//! The sync engine: pushes the outbox to the server and pulls what other devices wrote,
//! over any [`Transport`] (the browser's `fetch` in `web::fetch`, a scripted or in-process
//! server in native tests) and any [`SyncLocal`] (the local store's sync side).
//!
//! ## What it guarantees
//! - **Nothing lost**: a pending event leaves the outbox only when the server's 2xx
//!   (or a pull showing it stored) confirms it; every failure keeps it.
//! - **Nothing duplicated**: a push is a batch of events with ids, conditional on the
//!   stream's synced version; a retry after a lost response resends the same ids and
//!   precondition, and the server answers with the original result (see
//!   docs/protocol.md).
//! - **Per stream, in order; streams independent**: one stream's batch waits for its
//!   predecessor; a stream in backoff or dead-lettering never blocks another.
//! - **Nothing silent**: conflicts are rebased, resolved by the app or quarantined (and
//!   listed); refused batches go to dead letters with the server's reason.
//!
//! | server says | engine does |
//! |---|---|
//! | 2xx | acknowledge: the stream's synced version moves up |
//! | 412 | pull the stream, then the conflict policy (rebase / resolve / quarantine) |
//! | 412 `condition_failed` | pull the feed, then re-check the append's condition against the merged log (rebase) or set it aside with the matching events (quarantine / resolve) |
//! | 409 | pull the stream first (a `partial_retry`: a lost answer left the leading events stored); dead-letter if that moves nothing |
//! | 400, 409, 422 | dead-letter the batch with the reason |
//! | 401, 403 | pause, report `auth`, keep everything |
//! | 403 `origin_not_allowed` | pause, report `forbidden_origin` (the server does not allow the page's origin) |
//! | 404, 405 | pause, report `not_found` (no sync server at the URL: a wrong `sync.url`) |
//! | 413 | halve the batch and retry at once (a single event: dead letter) |
//! | 429, 503 + Retry-After | wait as told |
//! | 408, 5xx, network error, timeout | exponential backoff with full jitter |

mod driver;
mod engine;
mod plan;
mod scope;
mod status;

pub use driver::{DriverState, Refreshed, RoundEffects, SyncErrorKind, HIDDEN_POLL_FACTOR};
pub use engine::{PullProgress, SyncEngine, SyncOptions, SyncReport};
pub use plan::{plan_integration, IntegrationPlan};
pub use scope::{FeedCursor, FeedLane};
pub use status::{OutboxSummary, StallWatchdog, SyncStatus};

use crate::error::Result;
use crate::event::{EventId, Position, StreamId, Version};
use crate::outbox::{BatchLimits, Failure, OutboxEntry};
use crate::protocol::{
    FeedFilter, FeedReadResponse, PushCondition, PushEvent, PushResponse, StreamReadResponse,
    WireEvent,
};
use crate::query::AppendCondition;

/// The answer to a push, classified.
#[derive(Clone, Debug, PartialEq)]
pub enum PushOutcome {
    /// 200 or 201: the server holds the batch.
    Accepted(PushResponse),
    /// 412: the stream moved on the server.
    Conflict {
        /// The server's version of the stream.
        actual: Version,
    },
    /// 412 `condition_failed`: an event of the feed matches the condition of one of the
    /// batch's conditional appends (decided before the device saw that event).
    ConditionFailed {
        /// Index in the push's `conditions` of the condition that failed.
        condition: usize,
        /// The first matching event of the feed: its id and position.
        event: EventId,
        /// Its position in the feed.
        position: Position,
    },
    /// 400, 409, 422: the server will never take this batch.
    Rejected(Failure),
    /// 401, 403 or 404: only the app can fix it (a token, the allowed origins, the URL);
    /// sync pauses and reports this kind of error.
    Paused(SyncErrorKind, Failure),
    /// 413: the request was too large.
    TooLarge,
    /// 408, 429, 5xx, network error or timeout: try again later.
    Retry {
        /// What went wrong.
        failure: Failure,
        /// The server's `Retry-After`, in milliseconds.
        retry_after_ms: Option<u64>,
    },
}

/// The answer to a read, classified.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadOutcome<T> {
    /// 200 with the body.
    Fresh(T),
    /// 304: nothing new.
    NotModified,
    /// 401, 403 or 404: sync pauses (see [`PushOutcome::Paused`]).
    Paused(SyncErrorKind, Failure),
    /// Anything else: try again later.
    Retry {
        /// What went wrong.
        failure: Failure,
        /// The server's `Retry-After`, in milliseconds.
        retry_after_ms: Option<u64>,
    },
}

/// The server, as the engine sees it. Implementations speak docs/protocol.md.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// The payload type (`data`, `meta`).
    type Payload;

    /// `POST {base}/streams/{stream}` with `If-Match: "<base_version>"`, or
    /// `If-None-Match: *` when `base_version` is 0; the body carries `conditions` when
    /// there are any.
    async fn push(
        &self,
        stream: &StreamId,
        base_version: Version,
        events: &[PushEvent<Self::Payload>],
        conditions: &[PushCondition],
    ) -> PushOutcome;

    /// `GET {base}/streams/{stream}?after=<after>&limit=<limit>`.
    async fn read_stream(
        &self,
        stream: &StreamId,
        after: Version,
        limit: u32,
    ) -> ReadOutcome<StreamReadResponse<Self::Payload>>;

    /// `GET {base}/events?after=<after>&limit=<limit>` with `If-None-Match: "<after>"`:
    /// an idle poll costs a 304. With a `filter`, its `stream=` and `prefix=` parameters
    /// too (partial sync): the 304 then means nothing in the filter's scope changed.
    async fn read_feed(
        &self,
        after: Position,
        limit: u32,
        filter: Option<&FeedFilter>,
    ) -> ReadOutcome<FeedReadResponse<Self::Payload>>;
}

/// A pending batch: events of one stream after its synced version, in version order.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingBatch<P> {
    /// The stream.
    pub stream: StreamId,
    /// The stream's synced version: the push's precondition.
    pub base_version: Version,
    /// The events, ready for the wire.
    pub events: Vec<PushEvent<P>>,
    /// The conditions of the conditional appends that start in this batch.
    pub conditions: Vec<PushCondition>,
}

/// The condition of a conditional append, kept with its pending events until the server
/// holds them (the local store saves it in the append's own transaction).
///
/// The app's `after` is a position in the device's log; the server checks a position in
/// its feed. So the condition travels as what the device knew when it decided: the feed
/// position it had pulled through (`server_after`: the lowest lane of its feed cursor),
/// and the ids of the local events matching the query (`known`: the decision saw them,
/// whether they came from the server or are this device's own, pending or pushed since).
/// Any other matching event of the feed after `server_after` is one the decision did
/// not see, and fails the push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCondition {
    /// The condition as the app gave it (`after`: a local position).
    pub local: AppendCondition,
    /// The ids of the append's events, in order (the first anchors the condition).
    pub events: Vec<EventId>,
    /// The feed position the device had pulled through when it decided.
    pub server_after: Position,
    /// The ids of the local events matching the condition's query when it decided.
    pub known: Vec<EventId>,
}

impl PendingCondition {
    /// The condition as a push carries it, its append starting at `events[event]`.
    pub fn to_push(&self, event: usize) -> PushCondition {
        PushCondition {
            event,
            fail_if_events_match: self.local.fail_if_events_match.clone(),
            after: self.server_after,
            known: self.known.clone(),
        }
    }

    /// Whether the decision saw the event `id` (matching when it decided, or its own).
    pub fn saw(&self, id: &EventId) -> bool {
        self.known.contains(id) || self.events.contains(id)
    }

    /// The re-check after the server refused this condition naming `matched`: it still
    /// holds when no event of `matching` (every local event its query matches now, after
    /// the pull) is one the decision did not see, and `matched` is one it saw. The one
    /// rule every store applies ([`SyncLocal::recheck_condition`]).
    pub fn holds_after_refusal<'a>(
        &self,
        mut matching: impl Iterator<Item = &'a EventId>,
        matched: &EventId,
    ) -> bool {
        self.saw(matched) && matching.all(|id| self.saw(id))
    }

    /// Brings the condition up to what the device knows now (`matching`: the ids of the
    /// local events its query matches; `pulled_through`: the feed cursor's position), to be
    /// pushed again.
    pub fn refresh(&mut self, matching: Vec<EventId>, pulled_through: Position) {
        let own = &self.events;
        self.known = matching.into_iter().filter(|id| !own.contains(id)).collect();
        self.server_after = pulled_through;
    }

    /// The push conditions of the appends anchored in `events` (a batch, in order).
    pub fn for_batch<P>(
        pending: &[PendingCondition],
        events: &[PushEvent<P>],
    ) -> Vec<PushCondition> {
        let mut out: Vec<PushCondition> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            out.extend(
                pending.iter().filter(|c| c.events.first() == Some(&e.id)).map(|c| c.to_push(i)),
            );
        }
        out
    }
}

/// What re-checking a conditional append refused at sync did
/// ([`SyncLocal::recheck_condition`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rechecked {
    /// Against the merged log the rule still holds (the server's match was an event the
    /// decision had seen): the condition now carries the device's current knowledge and
    /// the append is pushed again.
    Holds,
    /// The rule fails: the append's events (this many) moved to the conflicts list with
    /// the condition and the matching events.
    Conflicted(usize),
    /// The append is no longer pending (already settled): nothing to do.
    Gone,
}

/// How conflicting local events are settled after a 412 or a pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// Re-number the pending tail after the remote events and push it again.
    #[default]
    Rebase,
    /// Move the pending tail aside into the conflicts list, for the app to settle.
    Quarantine,
    /// Ask the app (a callback the local store holds); the local store falls back to
    /// quarantine if it has none.
    Resolve,
}

/// What integrating remote events did.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Integrated {
    /// Remote events written locally.
    pub inserted: usize,
    /// Pending events the remote showed as stored (acknowledged by the pull).
    pub acknowledged: usize,
    /// Pending events moved behind the remote ones.
    pub rebased: usize,
    /// Pending events moved to the conflicts list.
    pub quarantined: usize,
    /// The remote events did not follow the synced version: nothing was written; read
    /// the stream from the synced version and integrate that instead.
    pub gap: bool,
}

/// A batch the server refused for good (400, 409, 422, or a single event over its size
/// limit), kept with the reason until the app retries or discards it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter<P> {
    /// Its id in the dead-letter list.
    pub id: u64,
    /// The stream the events were appended to.
    pub stream: StreamId,
    /// The events, as they were sent.
    pub events: Vec<PushEvent<P>>,
    /// The server's reason.
    pub failure: Failure,
    /// When it was dead-lettered (ms since the epoch).
    pub failed_at: u64,
}

/// Local events set aside because remote events came first (quarantine policy), kept
/// until the app settles them.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict<P> {
    /// Its id in the conflicts list.
    pub id: u64,
    /// The stream.
    pub stream: StreamId,
    /// The local events that were pending, as they were.
    pub local: Vec<PushEvent<P>>,
    /// The remote events that came first (for a refused condition: the events that
    /// match it).
    pub remote: Vec<WireEvent<P>>,
    /// For a conditional append the server refused (`412 condition_failed`): its
    /// condition as the app gave it.
    pub condition: Option<AppendCondition>,
    /// When it was detected (ms since the epoch).
    pub detected_at: u64,
}

/// The local store's sync side. All writes are atomic per call.
#[allow(async_fn_in_trait)]
pub trait SyncLocal {
    /// The payload type.
    type Payload: Clone;

    /// Every stream with pending events and its outbox state, oldest pending first.
    async fn outbox(&self) -> Result<Vec<OutboxEntry>>;

    /// Saves one stream's outbox state (attempts, lease, next attempt, last error).
    async fn save_outbox_entry(&self, entry: &OutboxEntry) -> Result<()>;

    /// The next batch of `stream` within `limits`, or `None` when nothing is pending.
    async fn pending_batch(
        &self,
        stream: &StreamId,
        limits: BatchLimits,
    ) -> Result<Option<PendingBatch<Self::Payload>>>;

    /// The server holds `stream` through `version` (all of it local already).
    async fn acknowledge(&self, stream: &StreamId, version: Version) -> Result<()>;

    /// Writes remote events of `stream` (contiguous, from its synced version + 1 or
    /// earlier; earlier ones are skipped), settling pending events by `policy`.
    async fn integrate(
        &self,
        stream: &StreamId,
        remote: Vec<WireEvent<Self::Payload>>,
        policy: ConflictPolicy,
    ) -> Result<Integrated>;

    /// Integrates a page of the feed grouped by stream, as [`SyncLocal::integrate`] does
    /// each group, in one local transaction where the store has them (a first sync
    /// writes large transactions); one result per group, in order.
    async fn integrate_page(
        &self,
        page: Vec<(StreamId, Vec<WireEvent<Self::Payload>>)>,
        policy: ConflictPolicy,
    ) -> Result<Vec<Integrated>> {
        let mut out = Vec::with_capacity(page.len());
        for (stream, remote) in page {
            out.push(self.integrate(&stream, remote, policy).await?);
        }
        Ok(out)
    }

    /// Moves the pending events `ids` of `stream` to the dead letters with `failure`;
    /// later pending events of the stream move down to close the gap.
    async fn dead_letter(&self, stream: &StreamId, ids: &[EventId], failure: Failure)
        -> Result<()>;

    /// After the server refused the conditional append anchored at `anchor` (`412
    /// condition_failed`, naming the feed event `matched`) and the feed was pulled:
    /// under `ConflictPolicy::Rebase`, re-evaluates its condition against the merged log
    /// ([`Rechecked::Holds`] when no event the decision did not see matches, and
    /// `matched` is local and one it saw: the condition is refreshed to what the device
    /// knows now). Otherwise (the rule still fails, or another policy) moves the append's
    /// events to the conflicts list with the condition and the local events that match
    /// it; later pending events of the stream move down to close the gap.
    async fn recheck_condition(
        &self,
        stream: &StreamId,
        anchor: &EventId,
        matched: &EventId,
        policy: ConflictPolicy,
    ) -> Result<Rechecked>;

    /// The stream's synced version.
    async fn synced_version(&self, stream: &StreamId) -> Result<Version>;

    /// Where the device is in the server's feed (a fresh store: the whole feed from 0).
    async fn feed_cursor(&self) -> Result<FeedCursor>;

    /// Records where the device is in the server's feed.
    async fn set_feed_cursor(&self, cursor: &FeedCursor) -> Result<()>;
}

/// The answers only the app can fix, by status and the server's error `code` (the
/// `error` of its JSON body, when it has one): 401 and 403 are `auth`, except a 403
/// `origin_not_allowed` (the server does not allow the page's origin:
/// `forbidden_origin`); a 404 or 405 is `not_found` (a sync server never answers the
/// client's requests so: the URL leads somewhere else, e.g. a static host that refuses
/// the POST). Sync pauses on them instead of retrying forever.
pub fn pause_kind(status: u16, code: Option<&str>) -> Option<SyncErrorKind> {
    match (status, code) {
        (403, Some("origin_not_allowed")) => Some(SyncErrorKind::ForbiddenOrigin),
        (401 | 403, _) => Some(SyncErrorKind::Auth),
        (404 | 405, _) => Some(SyncErrorKind::NotFound),
        _ => None,
    }
}

/// Classifies an HTTP status of a push (shared by every transport); `code` is the
/// server's error code, if any (see [`pause_kind`]).
pub fn classify_push(
    status: u16,
    code: Option<&str>,
    retry_after_ms: Option<u64>,
    message: impl Into<String>,
) -> PushOutcome {
    let failure = Failure { status: Some(status), message: message.into() };
    if let Some(kind) = pause_kind(status, code) {
        return PushOutcome::Paused(kind, failure);
    }
    match status {
        412 => PushOutcome::Conflict { actual: Version(0) },
        400 | 409 | 422 | 428 => PushOutcome::Rejected(failure),
        413 => PushOutcome::TooLarge,
        _ => PushOutcome::Retry { failure, retry_after_ms },
    }
}

/// The outcome of a `412 condition_failed` answer, from its body's `condition` and
/// `event` (`id`, `position`); `None` when the body lacks them (then the 412 is read as a
/// version conflict).
pub fn condition_failed(
    condition: Option<u64>,
    id: Option<&str>,
    position: Option<u64>,
) -> Option<PushOutcome> {
    Some(PushOutcome::ConditionFailed {
        condition: usize::try_from(condition?).ok()?,
        event: EventId::new(id?).ok()?,
        position: Position(position?),
    })
}

/// Parses a `Retry-After` header value (delay-seconds; an HTTP date is treated as
/// "soon": 1 s) into milliseconds, capped at one hour.
pub fn parse_retry_after(value: Option<&str>) -> Option<u64> {
    let value = value?.trim();
    match value.parse::<u64>() {
        Ok(seconds) => Some(seconds.min(3_600).saturating_mul(1_000)),
        Err(_) if !value.is_empty() => Some(1_000),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests;
