//! The offline outbox as pure state machines: no I/O, no clock, no randomness of its own.
//!
//! - [`RetryPolicy`]: exponential backoff with full jitter, capped, reset on success;
//!   `Retry-After` from the server wins when it asks for longer.
//! - [`OutboxEntry`]: one stream's outbox state (attempts, lease, next attempt, last
//!   error). An entry leaves the outbox only when the server acknowledged every pending
//!   event of its stream (a 2xx); while a request is in flight the entry is *leased*
//!   until a deadline, so a tab that crashed mid-send is retried by the next syncing tab
//!   after the lease expires, and idempotency by event id makes the resend harmless.
//! - [`BatchLimits`]: how much one push carries (events and bytes); batches are halved
//!   on `413`.
//!
//! The pending events themselves are not copied into the outbox: they are the stream's
//! events after its *synced version* (the prefix the server confirmed). Appending an
//! event and making it pending is therefore one write in one transaction.

use crate::event::StreamId;

/// Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
/// Architecture Blog): the n-th retry waits a uniformly random time in
/// `[0, min(cap, base * 2^n)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Upper bound of the first retry's wait, in milliseconds.
    pub base_ms: u64,
    /// Largest wait, in milliseconds.
    pub cap_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base_ms: 500, cap_ms: 60_000 }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 = first retry), given a uniform random
    /// `unit` in `[0, 1)` and the server's `Retry-After` (ms), if any. Never panics,
    /// never overflows.
    pub fn delay_ms(&self, attempt: u32, unit: f64, retry_after_ms: Option<u64>) -> u64 {
        let exponent = attempt.saturating_sub(1).min(40);
        let ceiling = self.base_ms.saturating_mul(1u64 << exponent).min(self.cap_ms);
        let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.0 };
        let jittered = (ceiling as f64 * unit) as u64;
        match retry_after_ms {
            Some(server) => server.max(jittered),
            None => jittered,
        }
    }
}

/// Why the last attempt of an entry failed, in plain words plus the HTTP status if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What went wrong.
    pub message: String,
}

/// One stream's outbox state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The stream with pending events.
    pub stream: StreamId,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// Not before this time (ms since the epoch) will the entry be sent again.
    pub next_attempt_at: u64,
    /// While a request is in flight: until when the sending tab holds it.
    pub lease_until: Option<u64>,
    /// The last failure, cleared by a success.
    pub last_error: Option<Failure>,
}

/// What happened to one attempt, as the outbox state machine sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The server took the batch (2xx).
    Succeeded,
    /// Retry later: backoff (network error, timeout, 408, 5xx), or as told (429/503).
    RetryLater {
        /// The failure.
        failure: Failure,
        /// The server's `Retry-After`, in milliseconds.
        retry_after_ms: Option<u64>,
    },
}

impl OutboxEntry {
    /// A fresh entry, due now.
    pub fn new(stream: StreamId) -> Self {
        OutboxEntry { stream, attempts: 0, next_attempt_at: 0, lease_until: None, last_error: None }
    }

    /// Whether the entry may be sent at `now`: due, and not leased by a live sender.
    pub fn is_due(&self, now: u64) -> bool {
        self.next_attempt_at <= now && self.lease_until.is_none_or(|until| until <= now)
    }

    /// Takes the lease for one request lasting at most `timeout_ms`.
    pub fn lease(&mut self, now: u64, timeout_ms: u64) {
        self.lease_until = Some(now.saturating_add(timeout_ms));
    }

    /// Records an attempt's outcome; `unit` is a uniform random number in `[0, 1)`.
    pub fn record(&mut self, attempt: Attempt, now: u64, policy: &RetryPolicy, unit: f64) {
        self.lease_until = None;
        match attempt {
            Attempt::Succeeded => {
                self.attempts = 0;
                self.next_attempt_at = 0;
                self.last_error = None;
            }
            Attempt::RetryLater { failure, retry_after_ms } => {
                self.attempts = self.attempts.saturating_add(1);
                let delay = policy.delay_ms(self.attempts, unit, retry_after_ms);
                self.next_attempt_at = now.saturating_add(delay);
                self.last_error = Some(failure);
            }
        }
    }
}

/// Bounds of one push request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most events per request.
    pub max_events: usize,
    /// Most payload bytes per request (approximate JSON size); a single larger event
    /// is still sent alone.
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        // The server accepts 100 events and 1 MiB per request by default.
        BatchLimits { max_events: 100, max_bytes: 512 * 1024 }
    }
}

impl BatchLimits {
    /// How many of the leading events (with the given sizes) fit in one batch: at least
    /// one, when there is any.
    pub fn take(&self, sizes: impl IntoIterator<Item = usize>) -> usize {
        let mut count = 0;
        let mut bytes = 0usize;
        for size in sizes {
            if count >= self.max_events.max(1)
                || (count > 0 && bytes.saturating_add(size) > self.max_bytes)
            {
                break;
            }
            bytes = bytes.saturating_add(size);
            count += 1;
        }
        count
    }

    /// Limits after a `413`: half as many events (at least one).
    pub fn halved(&self, sent: usize) -> BatchLimits {
        BatchLimits { max_events: (sent / 2).max(1), max_bytes: self.max_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy { base_ms: 100, cap_ms: 1_000 };
        assert_eq!(p.delay_ms(1, 0.999_999, None), 99);
        assert_eq!(p.delay_ms(2, 0.5, None), 100);
        assert_eq!(p.delay_ms(3, 0.5, None), 200);
        assert_eq!(p.delay_ms(30, 0.5, None), 500, "capped");
        assert_eq!(p.delay_ms(1, 0.0, Some(5_000)), 5_000, "Retry-After wins");
        assert_eq!(p.delay_ms(1, f64::NAN, None), 0);
        assert_eq!(p.delay_ms(u32::MAX, 1.0, None), 1_000);
    }

    #[test]
    fn entry_lifecycle() {
        let s = StreamId::new("s").unwrap();
        let mut e = OutboxEntry::new(s);
        assert!(e.is_due(0));
        e.lease(1_000, 10_000);
        assert!(!e.is_due(5_000), "leased");
        assert!(e.is_due(11_000), "lease expired: a crashed sender's work is taken over");
        let p = RetryPolicy { base_ms: 1_000, cap_ms: 8_000 };
        let failure = Failure { status: Some(503), message: "busy".into() };
        e.record(
            Attempt::RetryLater { failure: failure.clone(), retry_after_ms: Some(3_000) },
            2_000,
            &p,
            0.1,
        );
        assert_eq!((e.attempts, e.next_attempt_at, e.lease_until), (1, 5_000, None));
        assert_eq!(e.last_error, Some(failure));
        e.record(Attempt::Succeeded, 6_000, &p, 0.1);
        assert_eq!((e.attempts, e.next_attempt_at, e.last_error), (0, 0, None), "reset on success");
    }

    #[test]
    fn batches_by_count_and_bytes() {
        let l = BatchLimits { max_events: 3, max_bytes: 100 };
        assert_eq!(l.take([10, 10, 10, 10]), 3);
        assert_eq!(l.take([60, 60, 10]), 1);
        assert_eq!(l.take([500, 1]), 1, "an oversized event still goes alone");
        assert_eq!(l.take(std::iter::empty()), 0);
        assert_eq!(l.halved(3).max_events, 1);
        assert_eq!(l.halved(1).max_events, 1);
    }

    proptest! {
        #[test]
        fn delay_is_bounded(attempt in any::<u32>(), unit in any::<f64>(), base in 0u64..10_000, cap in 0u64..1_000_000) {
            let p = RetryPolicy { base_ms: base, cap_ms: cap };
            prop_assert!(p.delay_ms(attempt, unit, None) <= cap);
        }

        #[test]
        fn batches_never_empty_never_over(sizes in proptest::collection::vec(0usize..2_000, 1..50), max_events in 1usize..20, max_bytes in 1usize..5_000) {
            let l = BatchLimits { max_events, max_bytes };
            let n = l.take(sizes.iter().copied());
            prop_assert!(n >= 1 && n <= max_events);
            let total: usize = sizes[..n].iter().sum();
            prop_assert!(n == 1 || total <= max_bytes);
        }
    }
}
