//! When a projection writes a snapshot: [`SnapshotPolicy`] and [`SnapshotSchedule`].

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

/// A projection's snapshot bookkeeping: the events applied since its state was last
/// stored (or reset), against its [`SnapshotPolicy`]. Pure; the `Projection` class of
/// the bindings drives it.
///
/// ```
/// use tidelog::replay::{SnapshotPolicy, SnapshotSchedule};
/// let mut schedule = SnapshotSchedule::new(SnapshotPolicy { every: 300 });
/// let due: Vec<bool> = (0..4).map(|_| schedule.applied(100)).collect();
/// assert_eq!(due, [false, false, true, true]);
/// schedule.saved();
/// assert_eq!(schedule.unsaved(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotSchedule {
    /// The policy.
    pub policy: SnapshotPolicy,
    unsaved: u64,
}

impl SnapshotSchedule {
    /// A schedule with nothing applied yet.
    pub fn new(policy: SnapshotPolicy) -> Self {
        SnapshotSchedule { policy, unsaved: 0 }
    }

    /// Records `events` applied (one page, or one live batch); returns whether a
    /// snapshot is due now.
    pub fn applied(&mut self, events: u64) -> bool {
        self.unsaved = self.unsaved.saturating_add(events);
        self.policy.due(self.unsaved)
    }

    /// The state was stored, or reset to a stored or initial state: count from zero.
    pub fn saved(&mut self) {
        self.unsaved = 0;
    }

    /// Events applied since the last [`saved`](Self::saved).
    pub fn unsaved(&self) -> u64 {
        self.unsaved
    }

    /// Whether a rebuild ends with a snapshot of its final state: when the policy
    /// snapshots at all and events were applied since the last one.
    pub fn final_due(&self) -> bool {
        self.policy.every > 0 && self.unsaved > 0
    }
}
