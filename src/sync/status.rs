//! What `sync.status()` shows, and the stall watchdog that feeds its `stalled` flag.
//!
//! Pure: the browser driver (the JS API's `src/bindings/sync/`) reads the counters from the local store
//! and the host's state (online, leader), and hands them here; nothing in this module
//! touches a clock or a host API.

use crate::outbox::Failure;

/// The outbox summed over its streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxSummary {
    /// Pending events (not yet acknowledged by the server).
    pub pending_count: u64,
    /// Streams with pending events.
    pub pending_stream_count: u64,
    /// Approximate JSON bytes of the pending events' payloads.
    pub pending_bytes: u64,
    /// Recording time of the oldest pending event (ms since the epoch).
    pub oldest_pending_at: Option<u64>,
}

impl OutboxSummary {
    /// Adds one stream's outbox entry: `pending_count` events of `pending_bytes` bytes,
    /// the oldest recorded at `oldest_pending_at`. A stream with nothing pending counts
    /// for nothing.
    pub fn add(&mut self, pending_count: u64, pending_bytes: u64, oldest_pending_at: Option<u64>) {
        if pending_count == 0 {
            return;
        }
        self.pending_count += pending_count;
        self.pending_stream_count += 1;
        self.pending_bytes += pending_bytes;
        self.oldest_pending_at = match (self.oldest_pending_at, oldest_pending_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A snapshot of the sync state: the `SyncStatus` JS object, field by field (the
/// failures borrowed from the driver's state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus<'a> {
    /// The host says it is online (`navigator.onLine`; true where it cannot tell).
    pub online: bool,
    /// The app paused sync.
    pub paused: bool,
    /// This instance holds the sync lock and runs the rounds.
    pub leader: bool,
    /// Pending events, streams, bytes and the oldest pending event's recording time.
    pub outbox: OutboxSummary,
    /// A round is running that talks to the server.
    pub in_flight: bool,
    /// Quarantined conflicts.
    pub conflict_count: u64,
    /// Dead letters.
    pub dead_letter_count: u64,
    /// The end of the last round that reached the server without an error (ms since
    /// the epoch).
    pub last_synced_at: Option<u64>,
    /// The last round's failure, until a clean round.
    pub last_error: Option<&'a Failure>,
    /// The earliest time a pending stream is due again after a backoff, a `Retry-After`
    /// or a lease (ms since the epoch).
    pub next_attempt_at: Option<u64>,
    /// Events are pending and none reached the server for the stall interval.
    pub stalled: bool,
    /// The server refused the credentials: sync is paused until a new token or `now()`.
    pub auth: Option<&'a Failure>,
}

/// The stall watchdog: pending events that make no progress for `stall_ms` while sync
/// could run (leader, online, not paused, authorized) are *stalled*: never a silent
/// "connected" while nothing moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StallWatchdog {
    stall_ms: u64,
    last_progress_at: u64,
    stalled: bool,
}

impl StallWatchdog {
    /// A watchdog that starts counting at `now`.
    pub fn new(stall_ms: u64, now: u64) -> Self {
        StallWatchdog { stall_ms, last_progress_at: now, stalled: false }
    }

    /// The stall interval in milliseconds.
    pub fn stall_ms(&self) -> u64 {
        self.stall_ms
    }

    /// Something moved at `now` (events pushed, pulled, settled or dead-lettered).
    pub fn progress(&mut self, now: u64) {
        self.last_progress_at = now;
    }

    /// Checks at `now` with `pending` events waiting, sync `able` to run or not. An
    /// empty outbox counts as progress. Returns true when sync has just become
    /// stalled (once per stall: the caller reports it).
    pub fn check(&mut self, pending: bool, able: bool, now: u64) -> bool {
        if !pending {
            self.last_progress_at = now;
        }
        let stalled = pending && able && now.saturating_sub(self.last_progress_at) > self.stall_ms;
        let newly = stalled && !self.stalled;
        self.stalled = stalled;
        newly
    }

    /// Whether sync is stalled, as of the last [`check`](Self::check).
    pub fn stalled(&self) -> bool {
        self.stalled
    }

    /// The failure that reports a stall: no status, a message naming the interval.
    pub fn failure(&self) -> Failure {
        Failure {
            status: None,
            message: format!(
                "sync is stalled: events are pending and none reached the server for {} s",
                self.stall_ms / 1000
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_sums_pending_streams_and_keeps_the_oldest_time() {
        let mut summary = OutboxSummary::default();
        summary.add(3, 120, Some(2_000));
        summary.add(0, 0, None);
        summary.add(2, 80, Some(1_000));
        summary.add(1, 10, None);
        assert_eq!(
            summary,
            OutboxSummary {
                pending_count: 6,
                pending_stream_count: 3,
                pending_bytes: 210,
                oldest_pending_at: Some(1_000)
            }
        );
        assert_eq!(OutboxSummary::default().oldest_pending_at, None, "nothing pending, no time");
    }

    #[test]
    fn pending_without_progress_for_the_interval_stalls_once() {
        let mut watchdog = StallWatchdog::new(60_000, 0);
        assert!(!watchdog.check(true, true, 60_000), "exactly the interval is not yet a stall");
        assert!(watchdog.check(true, true, 60_001), "past the interval: newly stalled");
        assert!(watchdog.stalled());
        assert!(!watchdog.check(true, true, 90_000), "reported once, still stalled");
        assert!(watchdog.stalled());
        watchdog.progress(90_000);
        assert!(!watchdog.check(true, true, 100_000));
        assert!(!watchdog.stalled(), "progress ends the stall");
    }

    #[test]
    fn no_stall_while_sync_cannot_run_or_nothing_is_pending() {
        let mut watchdog = StallWatchdog::new(1_000, 0);
        assert!(
            !watchdog.check(true, false, 10_000),
            "paused, offline or not leading: not stalled"
        );
        assert!(!watchdog.stalled());
        // Able again after a long pause: the old progress time counts.
        assert!(watchdog.check(true, true, 10_001));
        // The outbox drained: that is progress, and the stall is over.
        assert!(!watchdog.check(false, true, 20_000));
        assert!(!watchdog.stalled());
        assert!(!watchdog.check(true, true, 20_500), "counting restarts when the outbox was empty");
    }

    #[test]
    fn the_stall_failure_names_the_interval_in_seconds() {
        let failure = StallWatchdog::new(90_500, 0).failure();
        assert_eq!(failure.status, None);
        assert_eq!(
            failure.message,
            "sync is stalled: events are pending and none reached the server for 90 s"
        );
    }
}
