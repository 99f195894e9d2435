//! [`CommandAttempts`]: the attempt/retry loop of decide/evolve command handling.

use crate::error::Result;
use crate::event::Version;

/// Attempts of `store.execute` unless `maxAttempts` says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The most attempts `store.execute` makes, whatever `maxAttempts` says.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// The attempt loop of decide/evolve (`store.execute`) as a pure state machine.
///
/// Each attempt: [`begin`](Self::begin) says from which stream version to fold (the
/// whole stream on the first attempt, only the events missed since on a retry: the state
/// is kept between attempts); the caller folds and reports the last version folded with
/// [`folded`](Self::folded); `decide` runs on the state; the events are appended
/// expecting [`version`](Self::version). When the append fails,
/// [`retry`](Self::retry) says whether to try again: only after a version conflict (another
/// writer got there first), and at most `max_attempts` attempts in all.
///
/// ```
/// use tidelog::replay::CommandAttempts;
/// use tidelog::Version;
/// let mut attempts = CommandAttempts::new(2);
/// assert_eq!(attempts.begin()?, Version(1)); // fold the whole stream
/// attempts.folded(Version(4));
/// assert_eq!(attempts.version(), Version(4)); // append expecting version 4
/// assert!(attempts.retry(true)); // a version conflict: try again
/// assert_eq!(attempts.begin()?, Version(5)); // fold only what was missed
/// attempts.folded(Version(5));
/// assert!(!attempts.retry(true), "two attempts made: give up");
/// assert_eq!(attempts.attempts(), 2);
/// # Ok::<(), tidelog::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandAttempts {
    max_attempts: u32,
    attempts: u32,
    version: Version,
}

impl CommandAttempts {
    /// A loop of at most `max_attempts` attempts, kept within 1..=[`MAX_ATTEMPTS_LIMIT`].
    pub fn new(max_attempts: u64) -> Self {
        let max_attempts = max_attempts.clamp(1, u64::from(MAX_ATTEMPTS_LIMIT)) as u32;
        CommandAttempts { max_attempts, attempts: 0, version: Version(0) }
    }

    /// Starts an attempt; returns the first stream version to fold. Fails only when the
    /// stream's version cannot grow.
    pub fn begin(&mut self) -> Result<Version> {
        let from = self.version.next()?;
        self.attempts = self.attempts.saturating_add(1);
        Ok(from)
    }

    /// Records the version of the last event folded so far (an attempt that found no
    /// new events reports the version it already had, or does not call this).
    pub fn folded(&mut self, last: Version) {
        self.version = self.version.max(last);
    }

    /// The version the state was built at: the expected version of the append.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Attempts started.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// After a failed append: whether to make another attempt. Only a version conflict
    /// is retried, and only while attempts remain; anything else is the caller's error.
    pub fn retry(&self, version_conflict: bool) -> bool {
        version_conflict && self.attempts < self.max_attempts
    }
}
