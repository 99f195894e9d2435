//! Retention: which prefix of the local log a store may drop (the open option `retain`),
//! and which reads the dropped prefix refuses. Pure: every backend computes its new floor
//! here and checks its reads here, so the rule has one implementation.
//!
//! The local log keeps every event from its **floor** (a global position) on; the events
//! below it are gone. The floor only rises. A new floor is the lowest of:
//! - the position of the `events`-th newest held event (`events: N` keeps at least the
//!   newest N);
//! - the position of the first held event recorded less than `ms` ago (`ms` keeps every
//!   event younger than that; the time is the event's `recordedAt`, the appending
//!   device's clock);
//! - in a store that syncs, the position of its oldest pending event: only what the server
//!   has may go (conflicts and dead letters live outside the log and are never touched).
//!
//! A read that starts below the floor is refused with [`Error::NotRetained`]; one without
//! a start (`None`) reads from the floor. Snapshots do not hold the floor back: a
//! projection whose snapshot is below it cannot be rebuilt and gets the same error.

use crate::error::{Error, Result};
use crate::event::{Position, StreamId, Version};
use crate::store::{Direction, ReadOptions};

/// The open option `retain`: what the local log keeps. `None` fields do not bound it;
/// with both given, an event is kept when either keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at least the newest this many events.
    pub events: Option<u64>,
    /// Keep every event recorded less than this many milliseconds ago.
    pub ms: Option<u64>,
    /// The store syncs: pending events (not yet on the server) are never dropped.
    pub keep_pending: bool,
}

/// What one compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Events dropped by this compaction.
    pub dropped: u64,
    /// The floor: the lowest global position still held (the next one when none is).
    pub from: Position,
}

/// What a backend knows of its held events when it compacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    /// The current floor (`Position(1)`: nothing dropped yet).
    pub floor: Position,
    /// The next position the log would write (head + 1): the floor never passes it.
    pub next: Position,
    /// The position of the `events`-th newest held event (`None`: fewer are held).
    pub nth_newest: Option<Position>,
    /// The position of the first held event recorded less than `ms` ago (`None`: none is).
    pub first_young: Option<Position>,
    /// The position of the oldest pending event (`None`: nothing pending).
    pub oldest_pending: Option<Position>,
}

/// The new floor for `retention` over `held`: see the module docs. Never below the
/// current floor, never above `held.next`, never above the oldest pending event when
/// `keep_pending` (unless the current floor already is).
pub fn new_floor(retention: &Retention, held: &Held) -> Position {
    let mut floor = held.next;
    if let Some(n) = retention.events {
        // Fewer than N held: nothing may go.
        floor = floor.min(if n == 0 { held.next } else { held.nth_newest.unwrap_or(held.floor) });
    }
    if retention.ms.is_some() {
        floor = floor.min(held.first_young.unwrap_or(held.next));
    }
    if retention.events.is_none() && retention.ms.is_none() {
        floor = held.floor;
    }
    if retention.keep_pending {
        if let Some(pending) = held.oldest_pending {
            floor = floor.min(pending);
        }
    }
    floor.max(held.floor).min(held.next.max(held.floor))
}

/// Refuses a read of the global log starting at `start` (inclusive) below `floor`;
/// `None` (no start given) reads from the floor. Returns where the read starts.
pub fn check_from(floor: Position, start: Option<Position>) -> Result<Position> {
    match start {
        None => Ok(floor),
        Some(p) if p.0.max(1) < floor.0 => Err(Error::NotRetained { from: floor, stream: None }),
        Some(p) => Ok(p),
    }
}

/// Refuses a read of `stream` whose lowest version is `low` when the stream's lowest held
/// version is `held_from` (`floor` is the global one, for the error).
pub fn check_stream(
    floor: Position,
    stream: &StreamId,
    held_from: Version,
    low: Version,
) -> Result<()> {
    if low < held_from {
        return Err(Error::NotRetained { from: floor, stream: Some((stream.clone(), held_from)) });
    }
    Ok(())
}

/// The version range a stream read covers once retention is applied, or the refusal: a
/// read that names its start (`from_version`) below `held_from` (the stream's lowest held
/// version) is refused; one that does not reads what is held. `head` is the stream's
/// version, `floor` the global floor (for the error).
pub fn stream_range(
    options: &ReadOptions,
    head: Version,
    held_from: Version,
    floor: Position,
    stream: &StreamId,
) -> Result<Option<(Version, Version)>> {
    let mut options = *options;
    let named = options.from_version.is_some();
    if !named && options.direction == Direction::Forward {
        options.from_version = Some(held_from);
    }
    let Some((low, high)) = options.version_range(head) else { return Ok(None) };
    if named {
        check_stream(floor, stream, held_from, low)?;
        return Ok(Some((low, high)));
    }
    Ok((high >= held_from).then_some((low.max(held_from), high)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A log of `len` events at positions 1..=len, `pending[i]`: event i+1 is pending,
    /// `young[i]`: recorded within `ms`.
    fn held_of(floor: u64, len: u64, n: u64, pending: &[bool], young: &[bool]) -> Held {
        let held: Vec<u64> = (floor..=len).collect();
        let nth =
            (n > 0 && held.len() as u64 >= n).then(|| Position(held[held.len() - n as usize]));
        let at = |flags: &[bool]| {
            held.iter().copied().find(|&p| flags.get(p as usize - 1).copied().unwrap_or(false))
        };
        Held {
            floor: Position(floor),
            next: Position(len + 1),
            nth_newest: nth,
            first_young: at(young).map(Position),
            oldest_pending: at(pending).map(Position),
        }
    }

    #[test]
    fn keeps_the_newest_n() {
        let r = Retention { events: Some(10), ms: None, keep_pending: true };
        assert_eq!(new_floor(&r, &held_of(1, 50, 10, &[], &[])), Position(41));
        assert_eq!(new_floor(&r, &held_of(1, 5, 10, &[], &[])), Position(1));
        let mut pending = vec![false; 50];
        pending[19] = true;
        assert_eq!(new_floor(&r, &held_of(1, 50, 10, &pending, &[])), Position(20));
        let loose = Retention { keep_pending: false, ..r };
        assert_eq!(new_floor(&loose, &held_of(1, 50, 10, &pending, &[])), Position(41));
        assert_eq!(new_floor(&Retention::default(), &held_of(3, 50, 0, &[], &[])), Position(3));
    }

    #[test]
    fn reads_below_the_floor_are_refused() {
        let s = StreamId::new("s").unwrap();
        assert_eq!(check_from(Position(41), None), Ok(Position(41)));
        assert_eq!(check_from(Position(41), Some(Position(41))), Ok(Position(41)));
        assert_eq!(check_from(Position(1), Some(Position(0))), Ok(Position(0)));
        assert_eq!(
            check_from(Position(41), Some(Position(0))),
            Err(Error::NotRetained { from: Position(41), stream: None })
        );
        assert!(check_stream(Position(41), &s, Version(3), Version(3)).is_ok());
        assert_eq!(
            check_stream(Position(41), &s, Version(3), Version(2)),
            Err(Error::NotRetained { from: Position(41), stream: Some((s.clone(), Version(3))) })
        );
        let range = |from: Option<u64>, limit, direction| {
            let o = ReadOptions { from_version: from.map(Version), limit, direction };
            stream_range(&o, Version(10), Version(4), Position(41), &s)
        };
        let r = |a, b| Ok(Some((Version(a), Version(b))));
        assert_eq!(range(None, usize::MAX, Direction::Forward), r(4, 10));
        assert_eq!(range(None, 2, Direction::Forward), r(4, 5));
        assert_eq!(range(None, usize::MAX, Direction::Backward), r(4, 10));
        assert_eq!(range(None, 3, Direction::Backward), r(8, 10));
        assert_eq!(range(Some(4), 3, Direction::Forward), r(4, 6));
        assert!(range(Some(1), 3, Direction::Forward).is_err());
        assert!(range(Some(10), usize::MAX, Direction::Backward).is_err());
        assert_eq!(range(Some(11), 3, Direction::Forward), Ok(None));
    }

    proptest! {
        /// Whatever the bounds and the pending set: pending events are never dropped, the
        /// newest N always stay, young events always stay, and the floor never falls.
        #[test]
        fn floor_rules(
            len in 0u64..80,
            floor in 1u64..40,
            n in proptest::option::of(0u64..30),
            ms in any::<bool>(),
            keep_pending in any::<bool>(),
            pending in proptest::collection::vec(proptest::bool::weighted(0.1), 80),
            young in proptest::collection::vec(proptest::bool::weighted(0.2), 80),
        ) {
            let floor = floor.min(len + 1);
            let r = Retention { events: n, ms: ms.then_some(1000), keep_pending };
            let held = held_of(floor, len, n.unwrap_or(0), &pending, &young);
            let f = new_floor(&r, &held).0;
            prop_assert!(f >= floor, "floor fell");
            prop_assert!(f <= len + 1, "floor past the head");
            for p in floor..f {
                let i = p as usize - 1;
                if keep_pending { prop_assert!(!pending[i], "dropped pending {p}"); }
                if ms { prop_assert!(!young[i], "dropped young {p}"); }
            }
            if let Some(n) = n {
                let kept = (len + 1).saturating_sub(f);
                prop_assert!(kept >= n.min(len + 1 - floor), "kept {kept} < {n}");
            }
            if n.is_none() && !ms { prop_assert_eq!(f, floor); }
            // Applying it again changes nothing.
            let again = held_of(f, len, n.unwrap_or(0), &pending, &young);
            prop_assert_eq!(new_floor(&r, &again).0, f);
        }
    }
}
