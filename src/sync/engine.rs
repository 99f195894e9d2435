//! [`SyncEngine`]: one sync round at a time, driven by whoever owns the triggers (the
//! browser bindings: wake on append, `online`, `visibilitychange`, a timer, `now()`).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{
    ConflictPolicy, FeedCursor, FeedLane, PushOutcome, ReadOutcome, Rechecked, SyncErrorKind,
    SyncLocal, Transport,
};
use crate::env::Environment;
use crate::error::Result;
use crate::event::{EventId, Position, StreamId, Version};
use crate::outbox::{Attempt, BatchLimits, Failure, OutboxEntry, RetryPolicy};
use crate::protocol::{FeedFilter, WireEvent};

/// Tunables of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    /// Batch bounds per push.
    pub limits: BatchLimits,
    /// Backoff for retryable failures.
    pub retry: RetryPolicy,
    /// What happens to local events that conflict with remote ones.
    pub policy: ConflictPolicy,
    /// How long a sending tab holds an entry (longer than the request timeout).
    pub lease_ms: u64,
    /// Events per pull request (the reference server answers at most 1000).
    pub page: u32,
    /// Most requests in one round (bounds a round's duration; the rest is next round's).
    pub max_requests: u32,
    /// What the device pulls from the feed (partial sync); `None`: the whole feed.
    /// Pushes are not affected.
    pub pull: Option<FeedFilter>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            limits: BatchLimits::default(),
            retry: RetryPolicy::default(),
            policy: ConflictPolicy::Rebase,
            lease_ms: 45_000,
            page: 1000,
            max_requests: 200,
            pull: None,
        }
    }
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// HTTP requests made.
    pub requests: u32,
    /// Local events the server acknowledged.
    pub pushed: usize,
    /// Remote events written locally.
    pub pulled: usize,
    /// Pending events rebased or quarantined because of remote events.
    pub conflicted: usize,
    /// Pending events moved to the dead letters.
    pub dead_lettered: usize,
    /// Set when the server gave an answer only the app can fix (a refused token, a
    /// disallowed origin, a wrong URL: [`crate::sync::pause_kind`]): sync is paused.
    pub paused: Option<(SyncErrorKind, Failure)>,
    /// The last retryable failure of the round, if any.
    pub last_error: Option<Failure>,
    /// The earliest time a pending entry is due again (ms since the epoch), if any is
    /// waiting for backoff or a lease.
    pub next_attempt_at: Option<u64>,
    /// Work is due right now (e.g. events rebased by the pull): run another round.
    pub more_now: bool,
    /// Conditional appends the server refused this round (`412 condition_failed`): the
    /// stream, the append's first event and the feed event that matched; re-checked
    /// after the round's pull.
    pub refused_conditions: Vec<(StreamId, EventId, EventId)>,
}

/// How far a pull has come: after every page of the feed that brought events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PullProgress {
    /// Remote events written locally so far in this round.
    pub received: usize,
    /// The feed position pulled through.
    pub position: Position,
    /// The feed's last position on the server.
    pub head: Position,
}

/// What [`SyncEngine::on_progress`] keeps.
type ProgressHook = Box<dyn Fn(PullProgress)>;

/// Pushes the outbox and pulls the feed, one round per [`SyncEngine::run`] call.
pub struct SyncEngine<T> {
    transport: T,
    options: SyncOptions,
    /// Per-stream limits after a 413, until the next success (a few streams at most: a
    /// list, not a hash map).
    shrunk: RefCell<Vec<(StreamId, BatchLimits)>>,
    /// Told after every page of the feed that brought events.
    progress: RefCell<Option<ProgressHook>>,
}

fn unit_random(env: &impl Environment) -> f64 {
    let bytes = env.random_bytes();
    let n = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    f64::from(n) / (f64::from(u32::MAX) + 1.0)
}

impl<T: Transport> SyncEngine<T> {
    /// An engine over `transport`.
    pub fn new(transport: T, options: SyncOptions) -> Self {
        SyncEngine { transport, options, shrunk: RefCell::default(), progress: RefCell::default() }
    }

    /// Calls `hook` after every page of the feed that brought events (a first sync of a
    /// big space shows its progress).
    pub fn on_progress(&self, hook: impl Fn(PullProgress) + 'static) {
        *self.progress.borrow_mut() = Some(Box::new(hook));
    }

    /// The transport (e.g. to change its credentials).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The options.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// One round: push every due stream's pending events, then pull the feed.
    pub async fn run<L>(&self, local: &L, env: &impl Environment) -> Result<SyncReport>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        self.round(local, env, false).await
    }

    /// A round that does not wait for backoff deadlines or leases: the app asked, the
    /// network just came back, or this tab just took over syncing (a crashed tab's lease
    /// must not delay the resend; idempotency by event id makes a resend harmless).
    pub async fn run_now<L>(&self, local: &L, env: &impl Environment) -> Result<SyncReport>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        self.round(local, env, true).await
    }

    /// One round: [`run_now`](Self::run_now) when `force`, else [`run`](Self::run).
    pub async fn round<L>(
        &self,
        local: &L,
        env: &impl Environment,
        force: bool,
    ) -> Result<SyncReport>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        let mut report = SyncReport::default();
        for mut entry in NoInline(local.outbox()).await? {
            if report.paused.is_some() || report.requests >= self.options.max_requests {
                break;
            }
            let now = env.now_ms();
            if force {
                // Leases keep two live senders apart; a forced round runs in the one tab
                // that holds the sync lock, so a lease left here is a dead tab's.
                entry.next_attempt_at = entry.next_attempt_at.min(now);
                entry.lease_until = None;
            }
            if !entry.is_due(now) {
                let at = entry.next_attempt_at.max(entry.lease_until.unwrap_or(0));
                report.next_attempt_at = Some(report.next_attempt_at.map_or(at, |t| t.min(at)));
                continue;
            }
            self.push_stream(local, env, entry, &mut report).await?;
        }
        let mut caught_up = false;
        if report.paused.is_none() && report.requests < self.options.max_requests {
            caught_up = self.pull_feed(local, &mut report).await?;
        }
        if caught_up {
            self.recheck_conditions(local, &mut report).await?;
        }
        if report.paused.is_none() && !report.more_now {
            let now = env.now_ms();
            report.more_now = local
                .outbox()
                .await?
                .iter()
                .any(|e| e.is_due(now) && e.attempts == 0 && e.lease_until.is_none())
                && (report.pushed > 0 || report.conflicted > 0 || report.pulled > 0);
        }
        Ok(report)
    }

    async fn push_stream<L>(
        &self,
        local: &L,
        env: &impl Environment,
        mut entry: OutboxEntry,
        report: &mut SyncReport,
    ) -> Result<()>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        let stream = entry.stream.clone();
        let mut pulled_after_409 = false;
        while report.requests < self.options.max_requests {
            let limits = self
                .shrunk
                .borrow()
                .iter()
                .find(|(s, _)| *s == stream)
                .map_or(self.options.limits, |(_, l)| *l);
            let Some(batch) = NoInline(local.pending_batch(&stream, limits)).await? else {
                return Ok(());
            };
            entry.lease(env.now_ms(), self.options.lease_ms);
            local.save_outbox_entry(&entry).await?;
            report.requests += 1;
            let outcome = NoInline(self.transport.push(
                &stream,
                batch.base_version,
                &batch.events,
                &batch.conditions,
            ))
            .await;
            let sent = batch.events.len();
            match outcome {
                PushOutcome::Accepted(answer) => {
                    let through = answer
                        .events
                        .iter()
                        .filter(|ack| batch.events.iter().any(|e| e.id == ack.id))
                        .map(|ack| ack.version)
                        .max()
                        .unwrap_or(Version(batch.base_version.0 + sent as u64));
                    NoInline(local.acknowledge(&stream, through)).await?;
                    report.pushed += sent;
                    self.shrunk.borrow_mut().retain(|(s, _)| *s != stream);
                    entry.record(Attempt::Succeeded, env.now_ms(), &self.options.retry, 0.0);
                }
                PushOutcome::Conflict { .. } => {
                    // Someone else wrote the stream: pull it, settle, push what is left.
                    match self.pull_stream(local, &stream, batch.base_version, report).await? {
                        Ok(()) => {
                            entry.record(Attempt::Succeeded, env.now_ms(), &self.options.retry, 0.0)
                        }
                        Err((failure, retry_after_ms)) => {
                            return self
                                .retry_later(local, env, entry, failure, retry_after_ms, report)
                                .await;
                        }
                    }
                }
                PushOutcome::ConditionFailed { condition, event, .. } => {
                    // A rule across streams failed on the server: an event the decision
                    // had not seen matches. The stream waits for the round's pull (the
                    // matching event becomes local); then the condition is re-checked
                    // against the merged log or set aside (`recheck_conditions`).
                    let anchor = batch
                        .conditions
                        .get(condition)
                        .and_then(|c| batch.events.get(c.event))
                        .map(|e| e.id.clone());
                    let Some(anchor) = anchor else {
                        // Not a condition this batch sent: the server's answer is wrong.
                        let failure = Failure {
                            status: Some(412),
                            message: format!(
                                "condition_failed names condition {condition}, which the push did not carry"
                            ),
                        };
                        return self.retry_later(local, env, entry, failure, None, report).await;
                    };
                    report.refused_conditions.push((stream.clone(), anchor, event));
                    entry.record(Attempt::Succeeded, env.now_ms(), &self.options.retry, 0.0);
                    entry.lease_until = None;
                    local.save_outbox_entry(&entry).await?;
                    return Ok(());
                }
                PushOutcome::Rejected(failure)
                    if failure.status == Some(409) && !pulled_after_409 =>
                {
                    // 409 `partial_retry`: an earlier push of the leading events was
                    // stored but its answer lost, and this batch adds newer events. A
                    // pull of the stream shows ours and acknowledges them; then the rest
                    // goes as its own batch. If the pull moves nothing (e.g.
                    // `id_conflict`), the next 409 dead-letters the batch.
                    pulled_after_409 = true;
                    match self.pull_stream(local, &stream, batch.base_version, report).await? {
                        Ok(()) => {}
                        Err((failure, retry_after_ms)) => {
                            return self
                                .retry_later(local, env, entry, failure, retry_after_ms, report)
                                .await;
                        }
                    }
                    if local.synced_version(&stream).await? > batch.base_version {
                        pulled_after_409 = false;
                    }
                }
                PushOutcome::Rejected(failure) => {
                    let ids: Vec<_> = batch.events.iter().map(|e| e.id.clone()).collect();
                    NoInline(local.dead_letter(&stream, &ids, failure)).await?;
                    report.dead_lettered += sent;
                }
                PushOutcome::TooLarge if sent > 1 => {
                    let mut shrunk = self.shrunk.borrow_mut();
                    shrunk.retain(|(s, _)| *s != stream);
                    shrunk.push((stream.clone(), limits.halved(sent)));
                }
                PushOutcome::TooLarge => {
                    let failure = Failure {
                        status: Some(413),
                        message: "the event is larger than the server accepts".into(),
                    };
                    let ids: Vec<_> = batch.events.iter().map(|e| e.id.clone()).collect();
                    NoInline(local.dead_letter(&stream, &ids, failure)).await?;
                    report.dead_lettered += 1;
                }
                PushOutcome::Paused(kind, failure) => {
                    entry.lease_until = None;
                    entry.last_error = Some(failure.clone());
                    local.save_outbox_entry(&entry).await?;
                    report.paused = Some((kind, failure));
                    return Ok(());
                }
                PushOutcome::Retry { failure, retry_after_ms } => {
                    return self
                        .retry_later(local, env, entry, failure, retry_after_ms, report)
                        .await;
                }
            }
            // Settled one way or another (acknowledged, rebased, dead-lettered, split):
            // the lease ends with the request.
            entry.lease_until = None;
            local.save_outbox_entry(&entry).await?;
        }
        Ok(())
    }

    /// After a pull that reached the feed's head: re-checks (or sets aside) the
    /// conditional appends the server refused this round. Without such a pull the
    /// matching event may not be local yet: the next round pushes, and hears, again.
    async fn recheck_conditions<L: SyncLocal>(
        &self,
        local: &L,
        report: &mut SyncReport,
    ) -> Result<()> {
        for (stream, anchor, matched) in std::mem::take(&mut report.refused_conditions) {
            let policy = self.options.policy;
            if let Rechecked::Conflicted(n) =
                NoInline(local.recheck_condition(&stream, &anchor, &matched, policy)).await?
            {
                report.conflicted += n;
            }
            // Held: pushed again at the next round (not at once: a server and a device
            // that disagree must not loop).
        }
        Ok(())
    }

    async fn retry_later<L: SyncLocal>(
        &self,
        local: &L,
        env: &impl Environment,
        mut entry: OutboxEntry,
        failure: Failure,
        retry_after_ms: Option<u64>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let now = env.now_ms();
        entry.record(
            Attempt::RetryLater { failure: failure.clone(), retry_after_ms },
            now,
            &self.options.retry,
            unit_random(env),
        );
        local.save_outbox_entry(&entry).await?;
        let at = entry.next_attempt_at;
        report.next_attempt_at = Some(report.next_attempt_at.map_or(at, |t| t.min(at)));
        report.last_error = Some(failure);
        Ok(())
    }

    /// Reads `stream` after `after` (all pages) and integrates it. The inner error is a
    /// retryable failure of the read.
    async fn pull_stream<L>(
        &self,
        local: &L,
        stream: &StreamId,
        after: Version,
        report: &mut SyncReport,
    ) -> Result<Result<(), (Failure, Option<u64>)>>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        let mut remote: Vec<WireEvent<T::Payload>> = Vec::new();
        let mut cursor = after;
        loop {
            report.requests += 1;
            match NoInline(self.transport.read_stream(stream, cursor, self.options.page)).await {
                ReadOutcome::Fresh(page) => {
                    let n = page.events.len();
                    if let Some(last) = page.events.last() {
                        cursor = last.version;
                    }
                    remote.extend(page.events);
                    if n < self.options.page as usize || cursor >= page.version {
                        break;
                    }
                }
                ReadOutcome::NotModified => break,
                ReadOutcome::Paused(kind, failure) => {
                    report.paused = Some((kind, failure.clone()));
                    return Ok(Err((failure, None)));
                }
                ReadOutcome::Retry { failure, retry_after_ms } => {
                    return Ok(Err((failure, retry_after_ms)))
                }
            }
        }
        let done = NoInline(local.integrate(stream, remote, self.options.policy)).await?;
        report.pulled += done.inserted;
        report.conflicted += done.rebased + done.quarantined;
        Ok(Ok(()))
    }

    /// Pulls every lane of the feed cursor (normally one), after aiming it at
    /// [`SyncOptions::pull`]; merges the lanes once each has reached the head. Whether
    /// every lane reached it.
    async fn pull_feed<L>(&self, local: &L, report: &mut SyncReport) -> Result<bool>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        let mut cursor = NoInline(local.feed_cursor()).await?;
        // Saved with the first page pulled, or below.
        let mut changed = cursor.rescope(self.options.pull.as_ref());
        let mut caught_up = true;
        for lane in 0..cursor.lanes.len() {
            caught_up &= self.pull_lane(local, &mut cursor, lane, report).await?;
            if report.paused.is_some() {
                break;
            }
        }
        changed |= caught_up && cursor.merge();
        if changed {
            local.set_feed_cursor(&cursor).await?;
        }
        if report.paused.is_some() {
            return Ok(false);
        }
        // Cut short by the round's request bound (a first sync of a big space): go on
        // at once rather than at the next poll.
        if !caught_up && report.last_error.is_none() {
            report.more_now = true;
        }
        Ok(caught_up)
    }

    /// Pulls one lane page by page; whether it reached the feed's head.
    async fn pull_lane<L>(
        &self,
        local: &L,
        cursor: &mut FeedCursor,
        lane: usize,
        report: &mut SyncReport,
    ) -> Result<bool>
    where
        L: SyncLocal<Payload = T::Payload>,
        T::Payload: Clone,
    {
        let Some(FeedLane { filter, mut position }) = cursor.lanes.get(lane).cloned() else {
            return Ok(true);
        };
        let filter = filter.as_ref();
        while report.requests < self.options.max_requests {
            report.requests += 1;
            let page = match NoInline(self.transport.read_feed(position, self.options.page, filter))
                .await
            {
                ReadOutcome::Fresh(page) => page,
                ReadOutcome::NotModified => return Ok(true),
                ReadOutcome::Paused(kind, failure) => {
                    report.paused = Some((kind, failure));
                    return Ok(false);
                }
                ReadOutcome::Retry { failure, .. } => {
                    report.last_error = Some(failure);
                    return Ok(false);
                }
            };
            let count = page.events.len();
            let last = page.events.last().map(|e| e.position);
            // Group by stream, keeping each stream's order. A server that predates
            // filters sends the whole feed (no `through`): the filter applies here.
            let mut by_stream: Vec<(StreamId, Vec<WireEvent<T::Payload>>)> = Vec::new();
            for event in page.events {
                if page.through.is_none() && filter.is_some_and(|f| !f.matches(&event.stream)) {
                    continue;
                }
                match by_stream.iter_mut().find(|(s, _)| *s == event.stream) {
                    Some((_, events)) => events.push(event),
                    None => by_stream.push((event.stream.clone(), vec![event])),
                }
            }
            let streams: Vec<StreamId> = by_stream.iter().map(|(s, _)| s.clone()).collect();
            let results = NoInline(local.integrate_page(by_stream, self.options.policy)).await?;
            for (stream, done) in streams.iter().zip(results) {
                if done.gap {
                    let synced = local.synced_version(stream).await?;
                    if let Err((failure, _)) =
                        self.pull_stream(local, stream, synced, report).await?
                    {
                        report.last_error = Some(failure);
                        return Ok(false);
                    }
                } else {
                    report.pulled += done.inserted;
                    report.conflicted += done.rebased + done.quarantined;
                }
                if done.rebased > 0 {
                    report.more_now = true;
                }
            }
            let (next, done) = match (page.through, last) {
                (Some(through), _) => (through, through >= page.head),
                (None, Some(last)) => {
                    (last, count < self.options.page as usize || last >= page.head)
                }
                (None, None) => return Ok(true),
            };
            position = Position(next.0.max(position.0));
            if let Some(current) = cursor.lanes.get_mut(lane) {
                current.position = position;
            }
            local.set_feed_cursor(cursor).await?;
            if count > 0 {
                if let Some(hook) = self.progress.borrow().as_ref() {
                    hook(PullProgress { received: report.pulled, position, head: page.head });
                }
            }
            if done {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Awaits the future it holds with its poll kept out of line: the caller's state machine
/// holds the future but not a copy of its code. (Inlined, every step's IndexedDB and
/// fetch futures made `round` one state machine of 45 KB; kept apart, the sync wasm is
/// smaller.)
struct NoInline<F>(F);

impl<F: Future> Future for NoInline<F> {
    type Output = F::Output;

    #[inline(never)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of the only field: it is never moved out of the
        // wrapper, which has no Drop impl and is not Unpin unless F is.
        unsafe { self.map_unchecked_mut(|s| &mut s.0) }.poll(cx)
    }
}
