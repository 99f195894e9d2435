//! [`DriverState`]: the decisions of the sync driver, apart from the host that runs it.
//!
//! The browser driver (the JS API's `src/bindings/sync/`) owns the triggers (appends, `online`,
//! `visibilitychange`, a timer, another tab, `sync.now()`), the Web Lock and the
//! listeners; it asks this state machine what to do and tells it what happened:
//!
//! - **Rounds coalesce**: a trigger during a round asks for one more round, not one per
//!   trigger ([`wake`](DriverState::wake), [`next_round`](DriverState::next_round)).
//! - **Who may talk to the server**: the leader, online, not paused, not refused by the
//!   server ([`may_sync`](DriverState::may_sync)).
//! - **After a round**: which events to emit and whether another round is due at once
//!   ([`round_done`](DriverState::round_done)).
//! - **When to wake again**: the next backoff deadline (`Retry-After` included), or the
//!   poll interval, [`HIDDEN_POLL_FACTOR`] times longer while the page is hidden
//!   ([`next_wake_in`](DriverState::next_wake_in)).
//! - **Stall watchdog and Background Sync**: after the counters are re-read
//!   ([`refresh`](DriverState::refresh)).
//! - **Retention after sync**: a round that pushed or pulled events compacts the local
//!   log (the open option `retain`), at most once per [`COMPACT_EVERY_MS`]
//!   ([`RoundEffects::compact`]).
//! - **What `status()` shows** ([`status`](DriverState::status)).
//!
//! Times are milliseconds since the epoch, passed in by the caller.

use super::status::{OutboxSummary, StallWatchdog, SyncStatus};
use super::SyncReport;
use crate::outbox::Failure;

/// A store with `retain` compacts after a sync round that moved events at most this often
/// (and once at open): dropping events is cheap but not free, and a busy feed would
/// otherwise compact after every page.
pub const COMPACT_EVERY_MS: u64 = 60_000;

/// While the page is hidden, the poll interval is this many times longer.
pub const HIDDEN_POLL_FACTOR: u64 = 4;

/// The kinds of `SyncError` the driver reports (the error's `code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncErrorKind {
    /// The server refused the credentials (401, 403): sync is paused.
    Auth,
    /// The server does not allow the page's origin (403 `origin_not_allowed`): sync is
    /// paused (the server's allowed origins must change).
    ForbiddenOrigin,
    /// Nothing answers the sync protocol at the URL (404): sync is paused (`sync.url`
    /// is wrong).
    NotFound,
    /// A round failed to reach the server or got a retryable answer.
    Network,
    /// Events are pending and none reached the server for the stall interval.
    Stalled,
}

impl SyncErrorKind {
    /// The JS error's `code`.
    pub fn code(self) -> &'static str {
        match self {
            SyncErrorKind::Auth => "auth",
            SyncErrorKind::ForbiddenOrigin => "forbidden_origin",
            SyncErrorKind::NotFound => "not_found",
            SyncErrorKind::Network => "network",
            SyncErrorKind::Stalled => "stalled",
        }
    }
}

/// What the driver does after a round, in this order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundEffects {
    /// The local log changed under the subscribers (events pulled, rebased, settled or
    /// dead-lettered): let every tab re-read.
    pub notify_changed: bool,
    /// Local events conflicted: hand quarantined conflicts to the app's resolver, if it
    /// has one, and emit `conflict`.
    pub conflict: bool,
    /// Emit an `error`: a `SyncError` of this kind.
    pub error: Option<(SyncErrorKind, Failure)>,
    /// Events went up or came down: emit `synced`.
    pub synced: bool,
    /// Apply retention now (events moved, and the last compaction is
    /// a minute old, `COMPACT_EVERY_MS`).
    pub compact: bool,
}

/// What the driver does after re-reading the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Sync has just stalled: emit this `stalled` error.
    pub stalled: Option<Failure>,
    /// Register the Background Sync tag: events are pending and the server is out of
    /// reach (once per outage), so a service worker can finish the job.
    pub request_background_sync: bool,
}

/// The state of one store's sync driver, without the host.
#[derive(Clone, Debug)]
pub struct DriverState {
    poll_ms: u64,
    paused: bool,
    leader: bool,
    closed: bool,
    /// The server's refusal that paused sync, until a new token, `resume()` or `now()`.
    auth: Option<Failure>,
    /// A round loop is running (or `now()` runs its own round).
    running: bool,
    /// A trigger asked for a round since the loop last looked.
    again: bool,
    /// The next round ignores backoff deadlines and leases.
    force: bool,
    outbox: OutboxSummary,
    conflict_count: u64,
    dead_letter_count: u64,
    last_synced_at: Option<u64>,
    last_error: Option<Failure>,
    next_attempt_at: Option<u64>,
    watchdog: StallWatchdog,
    /// A Background Sync was requested since the last clean round (once per outage).
    background_requested: bool,
    /// When retention last ran (the store compacts at open, when the driver starts).
    last_compacted: u64,
}

impl DriverState {
    /// A driver polling every `poll_ms` (while visible) whose watchdog reports a stall
    /// after `stall_ms`, started at `now`; `paused` as the app opened it.
    pub fn new(poll_ms: u64, stall_ms: u64, paused: bool, now: u64) -> Self {
        DriverState {
            poll_ms,
            paused,
            leader: false,
            closed: false,
            auth: None,
            running: false,
            again: false,
            force: false,
            outbox: OutboxSummary::default(),
            conflict_count: 0,
            dead_letter_count: 0,
            last_synced_at: None,
            last_error: None,
            next_attempt_at: None,
            watchdog: StallWatchdog::new(stall_ms, now),
            background_requested: false,
            last_compacted: now,
        }
    }

    /// A trigger asks for a round. Returns true when the caller must start the round
    /// loop; false when one is running (it runs one more round) or the driver is closed.
    pub fn wake(&mut self) -> bool {
        if self.closed {
            return false;
        }
        self.again = true;
        !std::mem::replace(&mut self.running, true)
    }

    /// Like [`wake`](Self::wake), and the next round ignores backoff deadlines and
    /// leases (the network came back, or this instance just took over the lock).
    pub fn wake_forced(&mut self) -> bool {
        self.force = true;
        self.wake()
    }

    /// The round loop asks whether to run another round (taking the request).
    pub fn next_round(&mut self) -> bool {
        std::mem::take(&mut self.again) && !self.closed
    }

    /// The round loop ended.
    pub fn loop_done(&mut self) {
        self.running = false;
    }

    /// `sync.now()` wants a forced round of its own: true when no round is running (it
    /// now is, until [`loop_done`](Self::loop_done)); false means wait and ask again.
    pub fn try_run_now(&mut self) -> bool {
        if self.running {
            return false;
        }
        self.running = true;
        self.force = true;
        true
    }

    /// `sync.now()`'s round ended. Returns true when a trigger asked for a round
    /// meanwhile: the caller starts the round loop (still marked running); false: the
    /// driver is idle.
    pub fn now_done(&mut self) -> bool {
        let more = self.again && !self.closed;
        self.running = more;
        more
    }

    /// A round starts: whether it ignores backoff deadlines and leases (taking the flag).
    pub fn take_force(&mut self) -> bool {
        std::mem::take(&mut self.force)
    }

    /// Whether this instance may talk to the server now (`online`: the host's view).
    pub fn may_sync(&self, online: bool) -> bool {
        self.leader && !self.paused && self.auth.is_none() && online && !self.closed
    }

    /// Records what a round did at `now` and says what to do about it.
    pub fn round_done(&mut self, report: &SyncReport, now: u64) -> RoundEffects {
        if report.pushed > 0
            || report.pulled > 0
            || report.conflicted > 0
            || report.dead_lettered > 0
        {
            self.watchdog.progress(now);
        }
        self.next_attempt_at = report.next_attempt_at;
        if report.last_error.is_none() && report.paused.is_none() {
            self.last_synced_at = Some(now);
            self.last_error = None;
        } else {
            self.last_error =
                report.last_error.clone().or_else(|| report.paused.as_ref().map(|p| p.1.clone()));
        }
        if let Some((_, failure)) = &report.paused {
            self.auth = Some(failure.clone());
        }
        if report.more_now {
            self.again = true;
        }
        let error = match (&report.paused, &report.last_error) {
            (Some((kind, failure)), _) => Some((*kind, failure.clone())),
            (None, Some(failure)) => Some((SyncErrorKind::Network, failure.clone())),
            (None, None) => None,
        };
        let synced = report.pushed > 0 || report.pulled > 0;
        let compact = synced && now.saturating_sub(self.last_compacted) >= COMPACT_EVERY_MS;
        if compact {
            self.last_compacted = now;
        }
        RoundEffects {
            notify_changed: report.pulled > 0 || report.conflicted > 0 || report.dead_lettered > 0,
            conflict: report.conflicted > 0,
            error,
            synced,
            compact,
        }
    }

    /// A round failed locally (the store could not be read or written).
    pub fn round_failed(&mut self, message: String) {
        self.last_error = Some(Failure { status: None, message });
    }

    /// Takes the counters re-read after a round (`None`: that read failed, keep the last
    /// value) at `now`, `online` as the host says; checks the stall watchdog and decides
    /// on Background Sync.
    pub fn refresh(
        &mut self,
        outbox: Option<OutboxSummary>,
        conflict_count: Option<u64>,
        dead_letter_count: Option<u64>,
        online: bool,
        now: u64,
    ) -> Refreshed {
        if let Some(outbox) = outbox {
            self.outbox = outbox;
        }
        if let Some(count) = conflict_count {
            self.conflict_count = count;
        }
        if let Some(count) = dead_letter_count {
            self.dead_letter_count = count;
        }
        let pending = self.outbox.pending_count > 0;
        let able = self.may_sync(online);
        let stalled = self.watchdog.check(pending, able, now).then(|| self.watchdog.failure());
        // Events pending and the server out of reach: let a service worker finish the
        // job when the network is back (once per outage).
        let failing = self.last_error.is_some() || !online;
        let request_background_sync = if pending && failing {
            !std::mem::replace(&mut self.background_requested, true)
        } else {
            self.background_requested = false;
            false
        };
        Refreshed { stalled, request_background_sync }
    }

    /// How long to wait, from `now`, before the timer wakes the driver: until the next
    /// backoff deadline, at most the poll interval (longer while `hidden`).
    pub fn next_wake_in(&self, now: u64, hidden: bool) -> u64 {
        let poll =
            if hidden { self.poll_ms.saturating_mul(HIDDEN_POLL_FACTOR) } else { self.poll_ms };
        match self.next_attempt_at {
            Some(at) => at.saturating_sub(now).min(poll),
            None => poll,
        }
    }

    /// The status snapshot, `online` as the host says.
    pub fn status(&self, online: bool) -> SyncStatus<'_> {
        SyncStatus {
            online,
            paused: self.paused,
            leader: self.leader,
            outbox: self.outbox,
            in_flight: self.running && self.may_sync(online),
            conflict_count: self.conflict_count,
            dead_letter_count: self.dead_letter_count,
            last_synced_at: self.last_synced_at,
            last_error: self.last_error.as_ref(),
            next_attempt_at: self.next_attempt_at,
            stalled: self.watchdog.stalled(),
            auth: self.auth.as_ref(),
        }
    }

    /// The app paused sync (the outbox keeps filling).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// The app resumed sync; a refusal by the server is forgotten (the caller wakes).
    pub fn resume(&mut self) {
        self.paused = false;
        self.auth = None;
    }

    /// Forgets the server's refusal (a new token, or `now()` tries again).
    pub fn clear_auth(&mut self) {
        self.auth = None;
    }

    /// This instance took (true) or gave up (false) the sync lock.
    pub fn set_leader(&mut self, leader: bool) {
        self.leader = leader;
    }

    /// Whether this instance holds the sync lock.
    pub fn leader(&self) -> bool {
        self.leader
    }

    /// The store closed: no more rounds.
    pub fn close(&mut self) {
        self.closed = true;
        self.leader = false;
    }

    /// Whether the store closed.
    pub fn closed(&self) -> bool {
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: Option<u16>, message: &str) -> Failure {
        Failure { status, message: message.into() }
    }

    fn leading() -> DriverState {
        let mut state = DriverState::new(30_000, 60_000, false, 0);
        state.set_leader(true);
        state
    }

    fn summary(pending_count: u64) -> Option<OutboxSummary> {
        let mut summary = OutboxSummary::default();
        summary.add(pending_count, 10 * pending_count, Some(5));
        Some(summary)
    }

    #[test]
    fn triggers_during_a_round_coalesce_into_one_more_round() {
        let mut state = leading();
        assert!(state.wake(), "nothing running: start the loop");
        assert!(!state.wake(), "a burst of appends...");
        assert!(!state.wake(), "...starts no second loop");
        assert!(state.next_round());
        assert!(!state.wake(), "a trigger while the round runs");
        assert!(state.next_round(), "...asks for exactly one more round");
        assert!(!state.next_round());
        state.loop_done();
        assert!(state.wake(), "after the loop ended, the next trigger starts one");
    }

    #[test]
    fn a_closed_driver_runs_no_more_rounds() {
        let mut state = leading();
        assert!(state.wake());
        state.close();
        assert!(!state.next_round(), "the running loop stops");
        state.loop_done();
        assert!(!state.wake(), "and nothing starts it again");
        assert!(!state.may_sync(true));
    }

    #[test]
    fn forced_rounds_ignore_backoff_once() {
        let mut state = leading();
        assert!(state.wake_forced());
        assert!(state.next_round());
        assert!(state.take_force(), "the online event / the lock hand-over forces the next round");
        assert!(!state.take_force(), "only that one");
    }

    #[test]
    fn now_waits_for_a_running_round_then_forces_its_own() {
        let mut state = leading();
        assert!(state.wake());
        assert!(!state.try_run_now(), "a round loop runs: wait");
        state.next_round();
        state.loop_done();
        assert!(state.try_run_now());
        assert!(state.take_force());
        assert!(!state.now_done(), "no trigger meanwhile: idle");
        assert!(state.wake(), "idle: a trigger starts the loop");
        state.next_round();
        state.loop_done();

        assert!(state.try_run_now());
        assert!(!state.wake(), "a trigger during now()'s round starts no second loop...");
        assert!(state.now_done(), "...but is not lost: the loop runs it after now()'s round");
        assert!(!state.wake(), "the loop counts as running");
        assert!(state.next_round());
        assert!(!state.next_round());
        state.loop_done();
    }

    #[test]
    fn only_an_online_leader_that_is_not_paused_or_refused_talks_to_the_server() {
        let mut state = DriverState::new(30_000, 60_000, true, 0);
        assert!(!state.may_sync(true), "not leading, and opened paused");
        state.set_leader(true);
        assert!(!state.may_sync(true), "paused");
        state.resume();
        assert!(state.may_sync(true));
        assert!(!state.may_sync(false), "offline");
        state.round_done(
            &SyncReport {
                paused: Some((SyncErrorKind::Auth, failure(Some(401), "no"))),
                ..SyncReport::default()
            },
            1,
        );
        assert!(!state.may_sync(true), "refused by the server");
        state.clear_auth();
        assert!(state.may_sync(true), "a new token tries again");
        state.pause();
        assert!(!state.may_sync(true));
    }

    #[test]
    fn a_clean_round_records_the_sync_time_and_clears_the_error() {
        let mut state = leading();
        state.round_failed("quota exceeded".into());
        assert_eq!(state.status(true).last_error, Some(&failure(None, "quota exceeded")));
        let effects = state
            .round_done(&SyncReport { pushed: 2, requests: 2, ..SyncReport::default() }, 1_000);
        assert_eq!(
            effects,
            RoundEffects {
                notify_changed: false,
                conflict: false,
                error: None,
                synced: true,
                compact: false
            }
        );
        let status = state.status(true);
        assert_eq!(status.last_synced_at, Some(1_000));
        assert_eq!(status.last_error, None);
    }

    #[test]
    fn a_failed_round_reports_network_or_auth_and_keeps_the_last_sync_time() {
        let mut state = leading();
        state.round_done(&SyncReport::default(), 1_000);
        let network = SyncReport {
            last_error: Some(failure(Some(503), "busy")),
            next_attempt_at: Some(4_000),
            ..SyncReport::default()
        };
        let effects = state.round_done(&network, 2_000);
        assert_eq!(effects.error, Some((SyncErrorKind::Network, failure(Some(503), "busy"))));
        assert_eq!(effects.error.as_ref().map(|(kind, _)| kind.code()), Some("network"));
        let status = state.status(true);
        assert_eq!(status.last_synced_at, Some(1_000));
        assert_eq!(status.last_error, Some(&failure(Some(503), "busy")));
        assert_eq!(status.next_attempt_at, Some(4_000));
        assert_eq!(status.auth, None);

        let auth = SyncReport {
            paused: Some((SyncErrorKind::Auth, failure(Some(401), "bad token"))),
            ..SyncReport::default()
        };
        let effects = state.round_done(&auth, 3_000);
        assert_eq!(effects.error, Some((SyncErrorKind::Auth, failure(Some(401), "bad token"))));
        let status = state.status(true);
        assert_eq!(status.auth, Some(&failure(Some(401), "bad token")));
        assert_eq!(status.last_error, Some(&failure(Some(401), "bad token")));
        assert_eq!(status.next_attempt_at, None, "no stream waits for a deadline");
    }

    #[test]
    fn round_effects_follow_the_report() {
        let mut state = leading();
        let pulled = state.round_done(&SyncReport { pulled: 1, ..SyncReport::default() }, 1);
        assert!(pulled.notify_changed && pulled.synced && !pulled.conflict);
        let conflicted =
            state.round_done(&SyncReport { conflicted: 2, ..SyncReport::default() }, 2);
        assert!(conflicted.notify_changed && conflicted.conflict && !conflicted.synced);
        let dead = state.round_done(&SyncReport { dead_lettered: 1, ..SyncReport::default() }, 3);
        assert!(dead.notify_changed && !dead.synced && !dead.conflict);
        let pushed = state.round_done(&SyncReport { pushed: 1, ..SyncReport::default() }, 4);
        assert!(!pushed.notify_changed, "our own events going up change nothing locally");
    }

    #[test]
    fn retention_runs_after_rounds_that_moved_events_at_most_once_a_minute() {
        let mut state = DriverState::new(30_000, 60_000, false, 0);
        let moved = |n| SyncReport { pulled: n, ..SyncReport::default() };
        assert!(!state.round_done(&moved(5), 1_000).compact, "the open compacted");
        assert!(!state.round_done(&moved(0), COMPACT_EVERY_MS).compact, "nothing moved");
        assert!(state.round_done(&moved(5), COMPACT_EVERY_MS).compact);
        assert!(!state.round_done(&moved(5), COMPACT_EVERY_MS + 10).compact, "throttled");
        let pushed = SyncReport { pushed: 1, ..SyncReport::default() };
        assert!(state.round_done(&pushed, 2 * COMPACT_EVERY_MS).compact);
    }

    #[test]
    fn work_due_now_runs_another_round() {
        let mut state = leading();
        assert!(state.wake());
        assert!(state.next_round());
        state.round_done(&SyncReport { pulled: 1, more_now: true, ..SyncReport::default() }, 1);
        assert!(state.next_round(), "rebased events go up in the same loop");
        state.round_done(&SyncReport::default(), 2);
        assert!(!state.next_round());
    }

    #[test]
    fn the_timer_waits_for_the_next_deadline_at_most_a_poll_interval() {
        let mut state = leading();
        assert_eq!(state.next_wake_in(0, false), 30_000, "nothing waiting: the poll interval");
        assert_eq!(state.next_wake_in(0, true), 120_000, "hidden: four times longer");
        let retry = SyncReport {
            last_error: Some(failure(Some(429), "slow down")),
            next_attempt_at: Some(12_000),
            ..SyncReport::default()
        };
        state.round_done(&retry, 10_000);
        assert_eq!(state.next_wake_in(10_000, false), 2_000, "Retry-After / backoff deadline");
        assert_eq!(state.next_wake_in(13_000, false), 0, "a deadline in the past: at once");
        let far = SyncReport {
            last_error: Some(failure(None, "offline")),
            next_attempt_at: Some(500_000),
            ..SyncReport::default()
        };
        state.round_done(&far, 10_000);
        assert_eq!(
            state.next_wake_in(10_000, false),
            30_000,
            "never longer than the poll interval"
        );
        assert_eq!(state.next_wake_in(10_000, true), 120_000);
    }

    #[test]
    fn refresh_updates_the_counters_it_could_read() {
        let mut state = leading();
        state.refresh(summary(3), Some(1), Some(2), true, 0);
        state.refresh(None, Some(4), None, true, 0);
        let status = state.status(true);
        assert_eq!(status.outbox.pending_count, 3, "a failed read keeps the last value");
        assert_eq!(status.outbox.pending_bytes, 30);
        assert_eq!(status.outbox.oldest_pending_at, Some(5));
        assert_eq!(status.conflict_count, 4);
        assert_eq!(status.dead_letter_count, 2);
    }

    #[test]
    fn pending_events_that_never_reach_the_server_stall_and_are_reported_once() {
        let mut state = leading();
        let failed =
            SyncReport { last_error: Some(failure(Some(503), "busy")), ..SyncReport::default() };
        state.round_done(&failed, 30_000);
        assert_eq!(state.refresh(summary(1), None, None, true, 30_000).stalled, None);
        let refreshed = state.refresh(summary(1), None, None, true, 60_001);
        assert_eq!(refreshed.stalled.map(|f| f.message.contains("60 s")), Some(true));
        assert!(state.status(true).stalled);
        assert_eq!(
            state.refresh(summary(1), None, None, true, 70_000).stalled,
            None,
            "reported once"
        );
        state.round_done(&SyncReport { pushed: 1, ..SyncReport::default() }, 80_000);
        state.refresh(summary(1), None, None, true, 80_000);
        assert!(!state.status(true).stalled, "progress ends the stall");
    }

    #[test]
    fn no_stall_while_paused_or_offline() {
        let mut state = leading();
        state.pause();
        state.refresh(summary(1), None, None, true, 100_000);
        assert!(!state.status(true).stalled, "paused");
        state.resume();
        state.refresh(summary(1), None, None, false, 100_000);
        assert!(!state.status(false).stalled, "offline");
    }

    #[test]
    fn background_sync_is_requested_once_per_outage_with_events_pending() {
        let mut state = leading();
        let offline =
            |state: &mut DriverState, at| state.refresh(summary(1), None, None, false, at);
        assert!(offline(&mut state, 1).request_background_sync, "offline with events pending");
        assert!(!offline(&mut state, 2).request_background_sync, "once per outage");
        assert!(
            !state.refresh(summary(1), None, None, true, 3).request_background_sync,
            "online, no error: no need"
        );
        assert!(offline(&mut state, 4).request_background_sync, "a new outage asks again");

        let mut state = leading();
        state.round_done(
            &SyncReport {
                last_error: Some(failure(None, "network error")),
                ..SyncReport::default()
            },
            1,
        );
        assert!(
            !state.refresh(summary(0), None, None, true, 2).request_background_sync,
            "nothing pending: nothing to finish"
        );
        assert!(
            state.refresh(summary(2), None, None, true, 3).request_background_sync,
            "online but the server out of reach"
        );
        state.round_done(&SyncReport { pushed: 2, ..SyncReport::default() }, 4);
        assert!(!state.refresh(summary(0), None, None, true, 4).request_background_sync);
    }

    #[test]
    fn status_shows_the_driver_state() {
        let mut state = DriverState::new(30_000, 60_000, true, 0);
        let status = state.status(false);
        assert!(
            !status.online
                && status.paused
                && !status.leader
                && !status.in_flight
                && !status.stalled
        );
        assert_eq!(status.last_synced_at, None);
        state.set_leader(true);
        state.resume();
        assert!(state.wake());
        assert!(state.status(true).in_flight, "a round runs and may talk to the server");
        assert!(!state.status(false).in_flight, "offline: the round only refreshes the counters");
        state.next_round();
        state.loop_done();
        assert!(!state.status(true).in_flight);
    }
}
