//! The replay engine's plans: pure state machines that the JS bindings drive, tested
//! natively. The fold itself (reducers, upcasters, skip mode) is JS, in `js/fold.js`: the
//! reducers are JS functions, and one call folds a whole page.
//!
//! - [`ReplayCursor`]: which page to read next and when to stop, within the bounds of
//!   [`ReplayOptions`] (time travel by version or by position).
//! - [`SnapshotPolicy`] + [`SnapshotSchedule`]: when a projection writes a snapshot.
//! - [`MoveTracker`]: which events a reader already took before sync moved them to new
//!   positions (rebases), so subscriptions deliver each event once and projections fold
//!   again when their order changed.
//! - [`CommandAttempts`]: the attempt/retry loop of decide/evolve command handling
//!   (`store.execute`): which versions to fold, when a version conflict is retried.
//!
//! A replay in the bindings: `ReplayCursor::next_read` -> one store read ->
//! `foldPage(ctx, page)` in JS -> `ReplayCursor::advance`, until the cursor is done.
//! Each page is one store read; each event is folded once; nothing is quadratic.

use crate::error::Error;
use crate::event::{Event, Position, Version};

mod command;
mod cursor;
mod moves;
mod snapshot;

#[cfg(test)]
mod tests;

pub use command::{CommandAttempts, DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT};
pub use cursor::{PageRead, ReplayCursor};
pub use moves::{Move, MoveTracker, Moved};
pub use snapshot::{SnapshotPolicy, SnapshotSchedule};

/// Events read per page unless said otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 2_000;

/// Bounds and page size of a replay. `from_version` / `to_version` apply to a stream
/// replay, `from_position` to a whole-log replay; `to_position` to both (time travel: the
/// state as it was when the log ended at that position).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// First stream version to apply (inclusive; stream replays only).
    pub from_version: Option<Version>,
    /// Last stream version to apply (inclusive; stream replays only).
    pub to_version: Option<Version>,
    /// First global position to apply (inclusive; whole-log replays only).
    pub from_position: Option<Position>,
    /// Last global position to apply (inclusive).
    pub to_position: Option<Position>,
    /// Events per store read (at least 1).
    pub page_size: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            from_version: None,
            to_version: None,
            from_position: None,
            to_position: None,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl Error {
    /// The [`Error::Replay`] for `event` and the failure `message` (what the reducer or
    /// upcaster threw).
    pub fn replay_failed<P>(event: &Event<P>, message: impl Into<String>) -> Self {
        Error::Replay {
            position: event.position,
            event_id: event.id.clone(),
            stream: event.stream.clone(),
            version: event.version,
            event_type: event.event_type.clone(),
            message: message.into(),
        }
    }
}
