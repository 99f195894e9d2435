//! Snapshots and long-lived projections: [`Snapshot`], [`SnapshotPolicy`],
//! [`ProjectionRunner`].

use std::collections::BTreeSet;

use super::{replay_filtered, Projection, ReplayOptions, ReplayReport, Upcasters};
use crate::error::Result;
use crate::event::{Position, StreamId};
use crate::store::EventStore;

/// A projection's state as of a position of the log, tagged with the projection's
/// version (a snapshot of another version is ignored: the projection rebuilds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot<S> {
    /// The state.
    pub state: S,
    /// The last global position the state covers.
    pub position: Position,
    /// The projection's version when the snapshot was taken.
    pub version: u32,
}

/// When to take a snapshot: once at least `every` events were applied since the last
/// one, checked after each page (so snapshots land at page boundaries). `every: 0`
/// never snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Events between snapshots.
    pub every: u64,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy { every: 1_000 }
    }
}

impl SnapshotPolicy {
    /// Whether a snapshot is due after `applied_since_last` events.
    pub fn due(&self, applied_since_last: u64) -> bool {
        self.every > 0 && applied_since_last >= self.every
    }
}

/// A named, versioned projection over the whole log (optionally only some streams) that
/// resumes from a [`Snapshot`] and catches up with the tail.
#[derive(Clone, Debug)]
pub struct ProjectionRunner<Pr> {
    /// The projection's version; snapshots of other versions are ignored.
    pub version: u32,
    /// The current state.
    pub state: Pr,
    /// The last global position the state covers.
    pub position: Position,
    /// When to snapshot.
    pub policy: SnapshotPolicy,
    /// Only events of these streams are applied (`None`: all).
    pub streams: Option<BTreeSet<StreamId>>,
    /// Events per read.
    pub page_size: usize,
    since_snapshot: u64,
}

impl<Pr: Clone> ProjectionRunner<Pr> {
    /// A runner starting from `initial`, or from `snapshot` when it has the same
    /// `version`.
    pub fn resume(version: u32, initial: Pr, snapshot: Option<Snapshot<Pr>>, policy: SnapshotPolicy) -> Self {
        let (state, position) = match snapshot {
            Some(s) if s.version == version => (s.state, s.position),
            _ => (initial, Position(0)),
        };
        ProjectionRunner {
            version,
            state,
            position,
            policy,
            streams: None,
            page_size: super::DEFAULT_PAGE_SIZE,
            since_snapshot: 0,
        }
    }

    /// Applies every event after [`position`](Self::position), in pages, handing a
    /// snapshot to `save` whenever the policy says so. Returns the replay report (its
    /// `events` is the tail's length, not the log's).
    pub async fn catch_up<St>(
        &mut self,
        store: &St,
        upcasters: Option<&Upcasters<St::Payload>>,
        mut save: impl FnMut(Snapshot<Pr>),
    ) -> Result<ReplayReport>
    where
        St: EventStore,
        Pr: Projection<St::Payload>,
    {
        let mut total = ReplayReport::default();
        loop {
            let options = ReplayOptions {
                from_position: Some(self.position.next()?),
                to_position: Some(self.position.plus(self.page_size.max(1) as u64)?),
                page_size: self.page_size.max(1),
                ..ReplayOptions::default()
            };
            let page =
                replay_filtered(store, None, &mut self.state, upcasters, &options, self.streams.as_ref())
                    .await?;
            total.events += page.events;
            total.pages += page.pages;
            let Some(last) = page.last_position else { break };
            self.position = last;
            total.last_position = Some(last);
            self.since_snapshot += page.events;
            if self.policy.due(self.since_snapshot) {
                save(Snapshot { state: self.state.clone(), position: self.position, version: self.version });
                self.since_snapshot = 0;
            }
        }
        Ok(total)
    }
}
