//! The replay engine: fold events into state, with time travel, upcasters, snapshots,
//! projections and command handling. Pure Rust over any [`EventStore`]; the JS API
//! (`store.replay`, `store.upcast`, `store.projection`, `store.execute`) drives the same
//! page plan ([`ReplayCursor`]) and the same snapshot policy ([`SnapshotPolicy`]) with a
//! JS reducer folded on the JS side of the boundary, one call per page.
//!
//! - [`Projection`]: anything that applies events to itself; [`Fold`] adapts a closure.
//! - [`replay`]: reads a stream (or the whole log) in pages of
//!   [`ReplayOptions::page_size`] events and applies them in order, up to a version or a
//!   position (time travel). A failing event stops the replay with
//!   [`Error::Replay`], or is skipped and reported ([`OnError::Skip`]).
//! - [`Upcasters`]: raise old event schemas to the latest before a projection sees them;
//!   stored events are never changed.
//! - [`ProjectionRunner`] + [`Snapshot`] + [`SnapshotPolicy`]: a projection that resumes
//!   from a snapshot and reads only the tail.
//! - [`execute`]: the decide/evolve command loop with optimistic concurrency and bounded
//!   retries.
//!
//! Cost: each page is one store read; each event is applied once; nothing is quadratic.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::event::{Event, EventId, Position, StreamId, Version};
use crate::store::{Direction, EventStore, ReadOptions};

mod decide;
mod snapshot;
mod upcast;

#[cfg(test)]
mod tests;

pub use decide::{execute, CommandOutcome};
pub use snapshot::{ProjectionRunner, Snapshot, SnapshotPolicy};
pub use upcast::{UpcastFn, Upcasters};

/// Events read per page unless said otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 2_000;

/// State built by applying events in order.
///
/// Implement [`apply`](Projection::apply); override [`try_apply`](Projection::try_apply)
/// when an event can be refused (the replay then stops with [`Error::Replay`] or skips
/// the event, see [`OnError`]).
pub trait Projection<P> {
    /// Applies one event.
    fn apply(&mut self, event: &Event<P>);

    /// Applies one event or says why it cannot; the default calls
    /// [`apply`](Projection::apply) and never fails.
    fn try_apply(&mut self, event: &Event<P>) -> std::result::Result<(), String> {
        self.apply(event);
        Ok(())
    }
}

/// A [`Projection`] made of a state and a closure `(&mut state, &event)`.
///
/// ```
/// use tidelog::replay::{Fold, Projection};
/// let mut count = Fold::new(0u64, |n: &mut u64, _e: &tidelog::Event<()>| *n += 1);
/// # let _ = &mut count;
/// assert_eq!(count.state, 0);
/// ```
#[derive(Clone, Debug)]
pub struct Fold<S, F> {
    /// The current state.
    pub state: S,
    reducer: F,
}

impl<S, F> Fold<S, F> {
    /// A fold starting at `initial`.
    pub fn new(initial: S, reducer: F) -> Self {
        Fold { state: initial, reducer }
    }

    /// The state, consuming the fold.
    pub fn into_state(self) -> S {
        self.state
    }
}

impl<P, S, F: FnMut(&mut S, &Event<P>)> Projection<P> for Fold<S, F> {
    fn apply(&mut self, event: &Event<P>) {
        (self.reducer)(&mut self.state, event);
    }
}

/// What a replay does with an event its projection (or an upcaster) refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop with [`Error::Replay`] (the default).
    #[default]
    Stop,
    /// Skip the event and list its id in [`ReplayReport::skipped`].
    Skip,
}

/// Bounds and knobs of a replay. `from_version` / `to_version` apply to a stream replay,
/// `from_position` to a whole-log replay; `to_position` to both (time travel: the state
/// as it was when the log ended at that position).
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
    /// Stop or skip on a failing event.
    pub on_error: OnError,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            from_version: None,
            to_version: None,
            from_position: None,
            to_position: None,
            page_size: DEFAULT_PAGE_SIZE,
            on_error: OnError::Stop,
        }
    }
}

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

/// The page plan of a replay: which page to read next and when to stop. Pure; shared by
/// the Rust [`replay`] and the JS bindings.
///
/// Versions are contiguous inside a stream and positions contiguous in the log, so the
/// `to_version` bound of a stream replay and the `to_position` bound of a whole-log replay
/// are exact read limits; only a stream replay bounded by `to_position` must cut a page
/// (the caller reports that with `cut`).
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
                        "applies to whole-log replays (stream null); use fromVersion for a stream",
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
            Some(to) => usize::try_from(to - self.next + 1).map_or(self.page_size, |n| n.min(self.page_size)),
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
    /// events, the version (stream) or position (log) of the last one, and whether the
    /// caller cut the page at `to_position`.
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

/// What a replay did.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ReplayReport {
    /// Events applied.
    pub events: u64,
    /// Ids of the events skipped under [`OnError::Skip`], in order.
    pub skipped: Vec<EventId>,
    /// Position of the last event applied or skipped.
    pub last_position: Option<Position>,
    /// Version (in its stream) of the last event applied or skipped.
    pub last_version: Option<Version>,
    /// Store reads made.
    pub pages: u64,
}

impl Error {
    /// The [`Error::Replay`] for `event` and the failure `message`.
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

/// Replays `stream` (`None`: the whole log) into `projection`, in pages, within the
/// bounds of `options`, raising old schemas with `upcasters` first.
///
/// ```
/// # use tidelog::store::{EventStore, MemoryStore};
/// # use tidelog::replay::{replay, Fold, ReplayOptions};
/// # use tidelog::{EventType, ExpectedVersion, NewEvent, StreamId, Version};
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let store = MemoryStore::<i64>::new();
/// let s = StreamId::new("account-1")?;
/// let deposit = |n| NewEvent::new(EventType::new("Deposited").unwrap(), n);
/// block_on(store.append(&s, ExpectedVersion::Any, vec![deposit(10), deposit(5), deposit(7)]))?;
/// let mut balance = Fold::new(0i64, |b: &mut i64, e: &tidelog::Event<i64>| *b += e.data);
/// let options = ReplayOptions { to_version: Some(Version(2)), ..Default::default() };
/// let report = block_on(replay(&store, Some(&s), &mut balance, None, &options))?;
/// assert_eq!((balance.state, report.events), (15, 2));
/// # Ok::<(), tidelog::Error>(())
/// ```
pub async fn replay<St, Pr>(
    store: &St,
    stream: Option<&StreamId>,
    projection: &mut Pr,
    upcasters: Option<&Upcasters<St::Payload>>,
    options: &ReplayOptions,
) -> Result<ReplayReport>
where
    St: EventStore,
    Pr: Projection<St::Payload> + ?Sized,
{
    replay_filtered(store, stream, projection, upcasters, options, None).await
}

/// [`replay`], applying only the events of `streams` when given (the others still count
/// as covered in [`ReplayReport::last_position`]).
pub(crate) async fn replay_filtered<St, Pr>(
    store: &St,
    stream: Option<&StreamId>,
    projection: &mut Pr,
    upcasters: Option<&Upcasters<St::Payload>>,
    options: &ReplayOptions,
    streams: Option<&BTreeSet<StreamId>>,
) -> Result<ReplayReport>
where
    St: EventStore,
    Pr: Projection<St::Payload> + ?Sized,
{
    let mut cursor = ReplayCursor::new(stream.cloned(), options)?;
    let to_position = cursor.to_position();
    let mut report = ReplayReport::default();
    while let Some(read) = cursor.next_read() {
        let page = match read {
            PageRead::Stream { stream, options } => store.read(&stream, options).await?,
            PageRead::All { from, limit } => store.read_all(from, limit).await?,
        };
        report.pages += 1;
        let returned = page.len();
        let mut cut = false;
        let mut last_key = None;
        for event in page {
            if to_position.is_some_and(|to| event.position > to) {
                cut = true;
                break;
            }
            last_key = Some(if stream.is_some() { event.version.0 } else { event.position.0 });
            report.last_position = Some(event.position);
            report.last_version = Some(event.version);
            if streams.is_some_and(|set| !set.contains(&event.stream)) {
                continue;
            }
            let outcome = match upcasters {
                Some(u) => u.upcast(event),
                None => Ok(event),
            }
            .and_then(|event| match projection.try_apply(&event) {
                Ok(()) => Ok(event),
                Err(message) => Err((event, message)),
            });
            match outcome {
                Ok(_) => report.events += 1,
                Err((event, message)) => match options.on_error {
                    OnError::Stop => return Err(Error::replay_failed(&event, message)),
                    OnError::Skip => report.skipped.push(event.id),
                },
            }
        }
        cursor.advance(returned, last_key, cut);
    }
    Ok(report)
}
