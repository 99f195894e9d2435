//! The one error type of the crate.
//!
//! Every fallible operation returns [`Result`]. The enum carries plain Rust data, never a
//! `JsValue`: the JS bindings (`bindings/`) turn each variant into a JS `Error` whose
//! `name` is [`Error::js_name`] and whose `code` is [`Error::code`], with the variant's
//! fields as properties (e.g. `VersionConflictError` with `stream`, `expectedVersion`,
//! `actualVersion`).

use crate::event::{EventId, EventType, ExpectedVersion, Invalid, Position, StreamId, Version};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tidelog.
///
/// `#[non_exhaustive]`: new variants may appear in minor releases; match with a
/// wildcard arm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller passed something tidelog cannot accept. Nothing was written.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// Which argument or field was wrong (`"stream"`, `"events[3].type"`, ...).
        field: String,
        /// What was wrong with it, in plain words.
        message: String,
    },

    /// The stream's current version did not match the caller's expectation.
    /// Nothing was written.
    #[error(
        "version conflict on stream {stream}: expected {expected}, actual version is {actual}"
    )]
    VersionConflict {
        /// The stream that was appended to.
        stream: StreamId,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was checked.
        actual: Version,
    },

    /// An append's condition (`condition.failIfEventsMatch`) matched a stored event after
    /// `condition.after`: the decision it was made on is stale. Nothing was written. In JS
    /// `AppendConditionError` with `stream`, `position` (the first matching event's global
    /// position), `eventId` and `after` (`null` when the condition had none).
    #[error(
        "append condition failed on stream {stream}: the event at position {position} (id {event_id}) matches the condition{}",
        after.map(|a| format!(" after position {a}")).unwrap_or_default()
    )]
    AppendCondition {
        /// The stream that was appended to.
        stream: StreamId,
        /// Global position of the first event that matched.
        position: Position,
        /// Its id.
        event_id: EventId,
        /// The condition's `after` (`None`: every event counted).
        after: Option<Position>,
    },

    /// The storage quota of the origin is exhausted. Nothing was written.
    #[error("storage quota exceeded: {message}")]
    QuotaExceeded {
        /// The storage engine's own message.
        message: String,
    },

    /// The storage engine failed. Keeps the engine's error name (for IndexedDB, the
    /// `DOMException` name such as `"AbortError"` or `"InvalidStateError"`) and message.
    #[error("storage error ({name}): {message}")]
    Storage {
        /// The engine's error name, e.g. the `DOMException` name.
        name: String,
        /// The engine's message.
        message: String,
    },

    /// The store was closed (by `close()`, by `deleteStore`, or by the browser when the
    /// database was deleted or upgraded by another tab).
    #[error("the event store is closed")]
    Closed,

    /// `deleteStore` was refused: the store holds events the sync server does not have
    /// (pending in the outbox, or set aside as conflicts or dead letters; in a store that
    /// does not sync, every event). Nothing was deleted or closed. In JS
    /// `UnsyncedEventsError` with `pendingCount`.
    #[error(
        "the store holds {pending_count} events the sync server does not have (pending, conflicted or dead-lettered); delete it with force: true to lose them"
    )]
    UnsyncedEvents {
        /// How many such events the store holds.
        pending_count: u64,
    },

    /// A reducer, projection or upcaster failed on one event during a replay; the replay
    /// stopped there (`onError: "skip"` skips such events instead). In JS the thrown
    /// value is attached as the error's `cause`.
    #[error(
        "replay failed at position {position} (stream {stream}, version {version}, type {event_type}, id {event_id}): {message}"
    )]
    Replay {
        /// Global position of the failing event.
        position: Position,
        /// Its id.
        event_id: EventId,
        /// Its stream.
        stream: StreamId,
        /// Its version in the stream.
        version: Version,
        /// Its type name.
        event_type: EventType,
        /// What the reducer reported (the thrown value's text in JS).
        message: String,
    },

    /// A read asked for events that retention dropped from the local log (the open
    /// option `retain`): they are refused, never served partially. In JS
    /// `NotRetainedError` with `from` (the lowest global position still held) and, for a
    /// stream read, `stream` and `retainedVersion` (the stream's lowest held version).
    #[error(
        "not retained: the local log holds positions from {from} on{}",
        stream.as_ref().map(|(s, v)| format!(" (stream {s} from version {v} on)")).unwrap_or_default()
    )]
    NotRetained {
        /// The lowest global position still held locally (the next one when none is).
        from: Position,
        /// For a stream read: the stream and its lowest version still held.
        stream: Option<(StreamId, Version)>,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), message: message.into() }
    }

    /// Shorthand for [`Error::Storage`].
    pub fn storage(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Storage { name: name.into(), message: message.into() }
    }

    /// The stable JS error `name` of this variant (`error.name` in JS).
    pub fn js_name(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "InvalidInputError",
            Error::VersionConflict { .. } => "VersionConflictError",
            Error::AppendCondition { .. } => "AppendConditionError",
            Error::QuotaExceeded { .. } => "QuotaExceededError",
            Error::Storage { .. } => "StorageError",
            Error::Closed => "ClosedError",
            Error::UnsyncedEvents { .. } => "UnsyncedEventsError",
            Error::Replay { .. } => "ReplayError",
            Error::NotRetained { .. } => "NotRetainedError",
        }
    }

    /// The stable machine-readable code of this variant (`error.code` in JS).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::VersionConflict { .. } => "version_conflict",
            Error::AppendCondition { .. } => "append_condition_failed",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::Storage { .. } => "storage",
            Error::Closed => "closed",
            Error::UnsyncedEvents { .. } => "unsynced_events",
            Error::Replay { .. } => "replay_failed",
            Error::NotRetained { .. } => "not_retained",
        }
    }
}

/// The event model's refusals ([`Invalid`]) are [`Error::InvalidInput`]s.
impl From<Invalid> for Error {
    // One out-of-line conversion for every `?` on the event model's checks: inlined at
    // each of them it cost the browser wasm 1.1 KB gzip.
    #[inline(never)]
    fn from(invalid: Invalid) -> Self {
        Error::InvalidInput { field: invalid.field, message: invalid.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_are_stable() {
        let conflict = Error::VersionConflict {
            stream: StreamId::new("cart-1").unwrap(),
            expected: ExpectedVersion::Exact(Version(2)),
            actual: Version(3),
        };
        assert_eq!(conflict.js_name(), "VersionConflictError");
        assert_eq!(conflict.code(), "version_conflict");
        assert_eq!(
            conflict.to_string(),
            "version conflict on stream cart-1: expected 2, actual version is 3"
        );
        let condition = Error::AppendCondition {
            stream: StreamId::new("user-2").unwrap(),
            position: Position(7),
            event_id: EventId::new("e-7").unwrap(),
            after: Some(Position(3)),
        };
        assert_eq!(
            (condition.js_name(), condition.code()),
            ("AppendConditionError", "append_condition_failed")
        );
        assert_eq!(
            condition.to_string(),
            "append condition failed on stream user-2: the event at position 7 (id e-7) matches the condition after position 3"
        );
        assert_eq!(Error::Closed.js_name(), "ClosedError");
        let unsynced = Error::UnsyncedEvents { pending_count: 3 };
        assert_eq!(
            (unsynced.js_name(), unsynced.code()),
            ("UnsyncedEventsError", "unsynced_events")
        );
        assert_eq!(
            unsynced.to_string(),
            "the store holds 3 events the sync server does not have (pending, conflicted or dead-lettered); delete it with force: true to lose them"
        );
        assert_eq!(Error::invalid("stream", "empty").js_name(), "InvalidInputError");
        assert_eq!(Error::invalid("stream", "empty").to_string(), "invalid stream: empty");
        assert_eq!(Error::storage("AbortError", "x").js_name(), "StorageError");
        assert_eq!(Error::QuotaExceeded { message: "m".into() }.code(), "quota_exceeded");
        let replay = Error::Replay {
            position: Position(7),
            event_id: EventId::new("e-7").unwrap(),
            stream: StreamId::new("s").unwrap(),
            version: Version(3),
            event_type: EventType::new("Added").unwrap(),
            message: "boom".into(),
        };
        assert_eq!((replay.js_name(), replay.code()), ("ReplayError", "replay_failed"));
        assert_eq!(
            replay.to_string(),
            "replay failed at position 7 (stream s, version 3, type Added, id e-7): boom"
        );
        let gone = Error::NotRetained {
            from: Position(41),
            stream: Some((StreamId::new("s").unwrap(), Version(3))),
        };
        assert_eq!((gone.js_name(), gone.code()), ("NotRetainedError", "not_retained"));
        assert_eq!(
            gone.to_string(),
            "not retained: the local log holds positions from 41 on (stream s from version 3 on)"
        );
    }
}
