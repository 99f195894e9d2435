//! [`ReplayCursor`]: the page plan of a replay.

use super::ReplayOptions;
use crate::error::{Error, Result};
use crate::event::{Position, StreamId, Version};
use crate::store::{Direction, ReadOptions};

/// One page to read, as planned by [`ReplayCursor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageRead {
    /// `store.read(stream, options)`.
    Stream {
        /// The stream.
        stream: StreamId,
        /// Forward from a version, with a limit.
        options: ReadOptions,
    },
    /// `store.read_all(from, limit)`.
    All {
        /// First position (inclusive).
        from: Position,
        /// Most events.
        limit: usize,
    },
}

/// The page plan of a replay: which page to read next and when to stop. Pure; the
/// bindings drive it (`store.replay`, `replayAll`, `execute`, projections).
///
/// Versions are contiguous inside a stream and positions contiguous in the log, so the
/// `to_version` bound of a stream replay and the `to_position` bound of a whole-log replay
/// are exact read limits; only a stream replay bounded by `to_position` must cut a page
/// (the caller reports that with `cut`).
///
/// ```
/// use tidelog::replay::{PageRead, ReplayCursor, ReplayOptions};
/// use tidelog::Position;
/// let options = ReplayOptions { to_position: Some(Position(5)), page_size: 2, ..Default::default() };
/// let mut cursor = ReplayCursor::new(None, &options)?;
/// let mut reads = Vec::new();
/// while let Some(PageRead::All { from, limit }) = cursor.next_read() {
///     reads.push((from.0, limit));
///     // The store returned `limit` events, the last at position from + limit - 1.
///     cursor.advance(limit, Some(from.0 + limit as u64 - 1), false);
/// }
/// assert_eq!(reads, [(1, 2), (3, 2), (5, 1)]);
/// # Ok::<(), tidelog::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayCursor {
    stream: Option<StreamId>,
    /// Next version (stream) or position (log) to read.
    next: u64,
    to_version: Option<u64>,
    to_position: Option<u64>,
    page_size: usize,
    done: bool,
}

impl ReplayCursor {
    /// Plans a replay of `stream` (`None`: the whole log); checks that the bounds fit
    /// the scope.
    pub fn new(stream: Option<StreamId>, options: &ReplayOptions) -> Result<Self> {
        if options.page_size == 0 {
            return Err(Error::invalid("pageSize", "must be at least 1"));
        }
        let next = match &stream {
            Some(_) => {
                if options.from_position.is_some() {
                    return Err(Error::invalid(
                        "fromPosition",
                        "applies to whole-log replays (replayAll); use fromVersion for a stream",
                    ));
                }
                options.from_version.map_or(1, |v| v.0.max(1))
            }
            None => {
                if options.from_version.is_some() || options.to_version.is_some() {
                    let field =
                        if options.from_version.is_some() { "fromVersion" } else { "toVersion" };
                    return Err(Error::invalid(
                        field,
                        "applies to stream replays; use fromPosition/toPosition for the whole log",
                    ));
                }
                options.from_position.map_or(1, |p| p.0.max(1))
            }
        };
        Ok(ReplayCursor {
            stream,
            next,
            to_version: options.to_version.map(|v| v.0),
            to_position: options.to_position.map(|p| p.0),
            page_size: options.page_size,
            done: false,
        })
    }

    /// The inclusive upper position bound, if any (a stream replay cuts pages there).
    pub fn to_position(&self) -> Option<Position> {
        self.to_position.map(Position)
    }

    /// The next page to read, or `None` when the replay is complete.
    pub fn next_read(&self) -> Option<PageRead> {
        if self.done {
            return None;
        }
        let bound = match &self.stream {
            Some(_) => self.to_version,
            None => self.to_position,
        };
        let limit = match bound {
            Some(to) if self.next > to => return None,
            Some(to) => usize::try_from(to - self.next + 1)
                .map_or(self.page_size, |n| n.min(self.page_size)),
            None => self.page_size,
        };
        Some(match &self.stream {
            Some(stream) => PageRead::Stream {
                stream: stream.clone(),
                options: ReadOptions {
                    from_version: Some(Version(self.next)),
                    limit,
                    direction: Direction::Forward,
                },
            },
            None => PageRead::All { from: Position(self.next), limit },
        })
    }

    /// Records what the page planned by [`next_read`](Self::next_read) returned: how many
    /// events, the version (stream) or position (log) of the last one consumed, and
    /// whether the caller cut the page at `to_position`. A short or cut page ends the plan.
    pub fn advance(&mut self, returned: usize, last_key: Option<u64>, cut: bool) {
        let limit = match self.next_read() {
            Some(PageRead::Stream { options, .. }) => options.limit,
            Some(PageRead::All { limit, .. }) => limit,
            None => 0,
        };
        match last_key {
            Some(last) if !cut && returned >= limit && returned > 0 => {
                self.next = last.saturating_add(1).max(self.next.saturating_add(1));
            }
            _ => self.done = true,
        }
    }
}
