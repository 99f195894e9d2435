//! Moved events, as a reader of the log sees them.
//!
//! Sync rewrites a stream's pending tail at new positions (a rebase after remote
//! events, the acknowledged events of a lost answer, the events left after a dead
//! letter): same ids, new versions and positions, the old places left as gaps. Each such
//! transaction is a *move* with an epoch (1, 2, ...) and logs every event it moved
//! (`from` and `to` positions). A reader that read an event at its old place must not
//! take it again at its new one: [`MoveTracker`] decides, from the reader's cursor when
//! the move happened, which new positions it already saw (subscriptions skip them;
//! projections fold again from scratch, since the order changed too).

use crate::event::Position;

/// One moved event of the move log; `N` is what the store logged about it (its stream,
/// id, old and new versions: the notice a subscriber gets), carried as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move<N> {
    /// The move's epoch (the transaction that moved it).
    pub epoch: u64,
    /// Where it was.
    pub from: Position,
    /// Where it is now.
    pub to: Position,
    /// The store's record of the move.
    pub note: N,
}

/// What a reader must do about the moves since it last read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved<N> {
    /// Moves of events the reader already took at their old place (in log order).
    pub seen: Vec<Move<N>>,
    /// The log no longer reaches back to the reader's epoch: moves it may have seen are
    /// gone from it (a reader that must be exact starts over).
    pub lost: bool,
}

/// One reader's view of the moves: the epoch its cursor reflects and the new places of
/// events it saw at an old place and has not passed yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveTracker {
    epoch: Option<u64>,
    /// New places of events already seen, not reached yet.
    skip: Vec<Position>,
}

impl MoveTracker {
    /// A reader that has seen no move yet; its epoch is set by its first read.
    pub fn new() -> Self {
        MoveTracker::default()
    }

    /// A reader whose state reflects the log at `epoch` (a snapshot's).
    pub fn at(epoch: u64) -> Self {
        MoveTracker { epoch: Some(epoch), skip: Vec::new() }
    }

    /// The epoch the reader's cursor reflects (`None` before its first read).
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// A read saw the log at `epoch` with `log` (the kept move log, oldest first). The
    /// reader had taken every event from `seen_from` (inclusive) up to `cursor`
    /// (exclusive) before this read. Records which new places to skip and returns the
    /// moves of events it had seen.
    pub fn observe<N: Clone>(
        &mut self,
        epoch: u64,
        log: &[Move<N>],
        seen_from: Position,
        cursor: Position,
    ) -> Moved<N> {
        let mut out = Moved { seen: Vec::new(), lost: false };
        let Some(known) = self.epoch else {
            // A new reader: it saw nothing that moved before.
            self.epoch = Some(epoch);
            return out;
        };
        if epoch <= known {
            return out;
        }
        out.lost = log.first().is_none_or(|m| m.epoch > known + 1);
        for m in log.iter().filter(|m| m.epoch > known) {
            if let Some(i) = self.skip.iter().position(|&p| p == m.from) {
                // Seen at an earlier place, moved again before the reader got here.
                self.skip[i] = m.to;
                out.seen.push(m.clone());
            } else if m.from >= seen_from && m.from < cursor {
                self.skip.push(m.to);
                out.seen.push(m.clone());
            }
        }
        self.epoch = Some(epoch);
        out
    }

    /// Whether the event at `position` is one the reader already took (at an old
    /// place); the reader passes it, so it is forgotten.
    pub fn take_seen(&mut self, position: Position) -> bool {
        match self.skip.iter().position(|&p| p == position) {
            Some(i) => {
                self.skip.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(epoch: u64, from: u64, to: u64) -> Move<&'static str> {
        Move { epoch, from: Position(from), to: Position(to), note: "moved" }
    }

    fn nothing() -> Moved<&'static str> {
        Moved { seen: Vec::new(), lost: false }
    }

    #[test]
    fn a_new_reader_saw_nothing_that_moved_before_it() {
        let mut t = MoveTracker::new();
        let moved = t.observe(3, &[mv(3, 4, 9)], Position(1), Position(1));
        assert_eq!(moved, nothing());
        assert!(!t.take_seen(Position(9)), "it reads the event at its new place only");
    }

    #[test]
    fn an_event_seen_at_its_old_place_is_skipped_at_its_new_one() {
        // Log 1 2 3 [4 5 local]; the reader took 1..=5. A rebase moves 4 -> 7, 5 -> 8
        // after the remote 6.
        let mut t = MoveTracker::new();
        t.observe::<&str>(0, &[], Position(1), Position(1));
        let log = [mv(1, 4, 7), mv(1, 5, 8)];
        let moved = t.observe(1, &log, Position(1), Position(6));
        assert_eq!(moved.seen, log.to_vec());
        assert!(!moved.lost);
        assert!(!t.take_seen(Position(6)), "the remote event is new");
        assert!(t.take_seen(Position(7)));
        assert!(t.take_seen(Position(8)));
        assert!(!t.take_seen(Position(8)), "forgotten once passed");
        assert_eq!(t.observe(1, &log, Position(1), Position(9)), nothing());
    }

    #[test]
    fn an_event_not_reached_before_the_move_is_taken_at_its_new_place() {
        let mut t = MoveTracker::at(0);
        let moved = t.observe(1, &[mv(1, 4, 7)], Position(1), Position(4));
        assert!(moved.seen.is_empty());
        assert!(!t.take_seen(Position(7)));
        // A subscriber from position 5 never saw position 4.
        let mut later = MoveTracker::at(0);
        assert!(later.observe(1, &[mv(1, 4, 7)], Position(5), Position(6)).seen.is_empty());
    }

    #[test]
    fn moved_twice_before_the_reader_reached_the_second_place() {
        let mut t = MoveTracker::at(0);
        let log = [mv(1, 4, 7), mv(2, 7, 10)];
        let moved = t.observe(2, &log, Position(1), Position(5));
        assert_eq!(moved.seen, log.to_vec());
        assert!(!t.take_seen(Position(7)));
        assert!(t.take_seen(Position(10)));
        // The same, noticed one move at a time.
        let mut t = MoveTracker::at(0);
        t.observe(1, &log[..1], Position(1), Position(5));
        t.observe(2, &log, Position(1), Position(5));
        assert!(t.take_seen(Position(10)));
    }

    #[test]
    fn a_log_that_no_longer_reaches_the_readers_epoch_is_reported() {
        let mut t = MoveTracker::at(2);
        assert!(t.observe(9, &[mv(5, 1, 20)], Position(1), Position(30)).lost);
        let mut t = MoveTracker::at(4);
        assert!(!t.observe(9, &[mv(5, 1, 20)], Position(1), Position(30)).lost);
        assert_eq!(t.epoch(), Some(9));
    }
}
