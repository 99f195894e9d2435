//! How remote events of one stream meet its local pending events: a pure plan that every
//! local store (memory, IndexedDB) carries out the same way.

use crate::event::{EventId, Version};

/// What to do with a stream's remote events (see [`plan_integration`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrationPlan {
    /// Every remote event is already local and synced.
    Nothing,
    /// The remote events are exactly the leading pending events (ours, e.g. after a lost
    /// response): the synced version moves to `through`.
    Acknowledge {
        /// The new synced version.
        through: Version,
    },
    /// Nothing is pending: append the remote events from `first` on as synced events.
    Append {
        /// Index of the first remote event to append (the ones before are known).
        first: usize,
    },
    /// Remote events of other devices arrived under local pending events: the local tail
    /// from the synced version on is rewritten as the remote events (from `first`), then
    /// the pending events that are not among them (`remaining`, indexes into the
    /// pending list, in order). `remaining` non-empty is a conflict: the policy decides
    /// their fate.
    Rewrite {
        /// Index of the first remote event that is not known yet.
        first: usize,
        /// Pending events left after the remote ones, in order.
        remaining: Vec<usize>,
    },
    /// The remote events do not start right after the synced version: read the stream
    /// from the synced version first.
    Gap,
}

impl IntegrationPlan {
    /// Whether local pending events must be settled by the conflict policy.
    pub fn is_conflict(&self) -> bool {
        matches!(self, IntegrationPlan::Rewrite { remaining, .. } if !remaining.is_empty())
    }
}

/// Plans the integration of `remote` (ids and versions, in version order) into a stream
/// whose synced version is `synced` and whose pending events have ids `pending` (at
/// versions `synced + 1 ..`).
pub fn plan_integration(
    synced: Version,
    pending: &[EventId],
    remote: &[(EventId, Version)],
) -> IntegrationPlan {
    let first = remote.iter().take_while(|(_, v)| *v <= synced).count();
    let fresh = remote.get(first..).unwrap_or(&[]);
    if fresh.is_empty() {
        return IntegrationPlan::Nothing;
    }
    let contiguous = fresh.iter().enumerate().all(|(i, (_, v))| v.0 == synced.0 + 1 + i as u64);
    if !contiguous {
        return IntegrationPlan::Gap;
    }
    if pending.is_empty() {
        return IntegrationPlan::Append { first };
    }
    let leading_ours = fresh.len() <= pending.len()
        && fresh.iter().zip(pending).all(|((remote_id, _), pending_id)| remote_id == pending_id);
    if leading_ours {
        return IntegrationPlan::Acknowledge { through: Version(synced.0 + fresh.len() as u64) };
    }
    let remaining = pending
        .iter()
        .enumerate()
        .filter(|(_, id)| !fresh.iter().any(|(stored, _)| stored == *id))
        .map(|(i, _)| i)
        .collect();
    IntegrationPlan::Rewrite { first, remaining }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<EventId> {
        names.iter().map(|n| EventId::new(*n).unwrap()).collect()
    }

    fn remote(names: &[&str], from: u64) -> Vec<(EventId, Version)> {
        ids(names).into_iter().zip(from..).map(|(id, v)| (id, Version(v))).collect()
    }

    #[test]
    fn plans() {
        let synced = Version(2);
        assert_eq!(
            plan_integration(synced, &ids(&["a"]), &remote(&["x", "y"], 1)),
            IntegrationPlan::Nothing
        );
        assert_eq!(
            plan_integration(synced, &[], &remote(&["x", "y", "z"], 1)),
            IntegrationPlan::Append { first: 2 }
        );
        assert_eq!(
            plan_integration(synced, &ids(&["a"]), &remote(&["z"], 4)),
            IntegrationPlan::Gap
        );
        assert_eq!(
            plan_integration(synced, &ids(&["a", "b", "c"]), &remote(&["a", "b"], 3)),
            IntegrationPlan::Acknowledge { through: Version(4) },
            "a lost response: the pull shows our own events"
        );
        let conflict = plan_integration(synced, &ids(&["a", "b"]), &remote(&["x"], 3));
        assert_eq!(conflict, IntegrationPlan::Rewrite { first: 0, remaining: vec![0, 1] });
        assert!(conflict.is_conflict());
        let ours_then_theirs = plan_integration(synced, &ids(&["a", "b"]), &remote(&["a", "x"], 3));
        assert_eq!(ours_then_theirs, IntegrationPlan::Rewrite { first: 0, remaining: vec![1] });
        let all_ours_plus = plan_integration(synced, &ids(&["a"]), &remote(&["a", "x"], 3));
        assert_eq!(all_ours_plus, IntegrationPlan::Rewrite { first: 0, remaining: vec![] });
        assert!(!all_ours_plus.is_conflict());
    }
}
