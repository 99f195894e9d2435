//! The event model: validated identifiers, versions, positions, and the event records.
//!
//! An event is `{ id, stream, version, position, type, tags, data, meta, recordedAt, schema }`:
//! - [`EventId`]: the idempotency key; made by the store (UUIDv7, sortable, unique across
//!   tabs) when the caller gives none.
//! - [`StreamId`]: which stream the event belongs to (validated: 1..=256 UTF-8 bytes, no
//!   control characters).
//! - [`Version`]: 1-based position inside the stream; a stream's version is its count of
//!   events, so `0` means "no events".
//! - [`Position`]: the local database's global order, starting at 1.
//! - [`Tag`]s: what the event is about across streams (`"username:ada"`,
//!   `"course:c1"`), at most [`MAX_TAGS`] per event, each 1..=[`MAX_TAG_BYTES`] UTF-8
//!   bytes without control characters, no tag twice; queries and append conditions
//!   select events by them (`crate::query`).
//! - `data` / `meta`: the payload type `P` (a `JsValue` in the browser, anything `Clone`
//!   natively); tidelog never looks inside them.
//!
//! All constructors validate and return [`Invalid`] (the field name and a plain reason),
//! which `?` turns into the crate's `Error::InvalidInput`; none panics, whatever the input.
//! The event model sits below the error type: `crate::error` names these types, this
//! module names no error but its own.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value the event model refuses: which field, and why, in plain words. Converts into
/// `crate::error::Error::InvalidInput` (its `From` impl), so `?` carries it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Which argument or field was wrong (`"stream"`, `"events[3].tags[1]"`, ...).
    pub field: String,
    /// What was wrong with it.
    pub message: String,
}

impl Invalid {
    /// An [`Invalid`] for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid { field: field.into(), message: message.into() }
    }

    /// The same refusal under another field path (the rules name a generic field, e.g.
    /// `"tag"`).
    pub fn at(self, field: impl Into<String>) -> Self {
        Invalid { field: field.into(), ..self }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.field, self.message)
    }
}

impl std::error::Error for Invalid {}

/// What the event model's checks return.
pub type Result<T> = std::result::Result<T, Invalid>;

/// Longest stream id accepted, in UTF-8 bytes.
pub const MAX_STREAM_ID_BYTES: usize = 256;
/// Longest event id accepted, in UTF-8 bytes.
pub const MAX_EVENT_ID_BYTES: usize = 128;
/// Longest event type accepted, in UTF-8 bytes.
pub const MAX_EVENT_TYPE_BYTES: usize = 256;
/// Longest tag accepted, in UTF-8 bytes.
pub const MAX_TAG_BYTES: usize = 256;
/// Most tags one event carries.
pub const MAX_TAGS: usize = 32;
/// Largest integer a JS number represents exactly (`Number.MAX_SAFE_INTEGER`); versions
/// and positions never exceed it so they round-trip through JS unchanged.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Checks a short identifier-like string: non-empty, at most `max` bytes, no control
/// characters (C0, DEL, C1), which break logs, headers and key encodings.
fn validate_name(field: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(Invalid::new(
            field,
            format!("is {} bytes long; the limit is {max} bytes (UTF-8)", value.len()),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Invalid::new(
            field,
            format!("must not contain control characters (found U+{:04X})", c as u32),
        ));
    }
    Ok(())
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn new(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                validate_name($field, &value, $max)?;
                Ok(Self(value))
            }

            /// Validates raw bytes (e.g. from a request path): they must be UTF-8.
            pub fn from_utf8_bytes(bytes: &[u8]) -> Result<Self> {
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| Invalid::new($field, "must be valid UTF-8"))?;
                Self::new(text)
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(value: String) -> Result<Self> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

validated_string!(
    /// A stream's name, e.g. `"cart-42"`: 1..=256 UTF-8 bytes, no control characters.
    /// Any other character is allowed (slashes, spaces, emoji); the sync protocol
    /// percent-encodes it in paths.
    StreamId,
    "stream",
    MAX_STREAM_ID_BYTES
);

validated_string!(
    /// An event's unique id and idempotency key: 1..=128 UTF-8 bytes, no control
    /// characters. Generated ids are UUIDv7 ([`IdGenerator`]).
    EventId,
    "id",
    MAX_EVENT_ID_BYTES
);

validated_string!(
    /// An event's type name, e.g. `"ItemAdded"`: 1..=256 UTF-8 bytes, no control characters.
    EventType,
    "type",
    MAX_EVENT_TYPE_BYTES
);

validated_string!(
    /// A tag: what an event is about, across streams (e.g. `"username:ada"`,
    /// `"course:c1"`): 1..=256 UTF-8 bytes, no control characters.
    Tag,
    "tag",
    MAX_TAG_BYTES
);

/// Validates an event's tags given as strings: at most [`MAX_TAGS`], each a valid
/// [`Tag`], none twice. Errors name `{field}[i]` (e.g. `events[0].tags[2]`).
pub fn tags_from_strings(field: &str, tags: Vec<String>) -> Result<Vec<Tag>> {
    if tags.len() > MAX_TAGS {
        return Err(Invalid::new(
            field,
            format!("has {} tags; an event carries at most {MAX_TAGS}", tags.len()),
        ));
    }
    let mut checked: Vec<Tag> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.into_iter().enumerate() {
        let tag = Tag::new(tag).map_err(|e| e.at(format!("{field}[{i}]")))?;
        if checked.contains(&tag) {
            return Err(Invalid::new(format!("{field}[{i}]"), format!("{tag} appears twice")));
        }
        checked.push(tag);
    }
    Ok(checked)
}

/// Checks already-typed tags against the per-event rules of [`tags_from_strings`]
/// (count, no duplicates).
pub fn check_tags(field: &str, tags: &[Tag]) -> Result<()> {
    tags_from_strings(field, tags.iter().map(|t| t.as_str().to_owned()).collect()).map(drop)
}

/// Parses a JS number into a non-negative safe integer, or explains why it is not one.
fn safe_integer(field: &str, value: f64) -> Result<u64> {
    if !value.is_finite() {
        return Err(Invalid::new(field, "must be a finite number (not NaN or Infinity)"));
    }
    if value < 0.0 {
        return Err(Invalid::new(field, "must not be negative"));
    }
    if value.fract() != 0.0 {
        // No float formatting here: it would pull ~15 KB of code into the wasm.
        return Err(Invalid::new(field, "must be a whole number"));
    }
    if value > MAX_SAFE_INTEGER as f64 {
        return Err(Invalid::new(field, "exceeds Number.MAX_SAFE_INTEGER"));
    }
    Ok(value as u64)
}

macro_rules! counter {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// Validates a JS number (finite, whole, non-negative, at most 2^53 - 1).
            pub fn from_f64(value: f64) -> Result<Self> {
                safe_integer($field, value).map(Self)
            }

            /// The next value, or an error past `Number.MAX_SAFE_INTEGER`.
            pub fn next(self) -> Result<Self> {
                self.plus(1)
            }

            /// `self + n`, or an error past `Number.MAX_SAFE_INTEGER`.
            pub fn plus(self, n: u64) -> Result<Self> {
                match self.0.checked_add(n) {
                    Some(v) if v <= MAX_SAFE_INTEGER => Ok(Self(v)),
                    _ => Err(Invalid::new($field, "would exceed Number.MAX_SAFE_INTEGER")),
                }
            }

            /// The value as a JS number (exact: values never exceed 2^53 - 1).
            pub fn as_f64(self) -> f64 {
                self.0 as f64
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

counter!(
    /// A stream's version: 1-based index of an event inside its stream; the version of a
    /// stream is its number of events (`Version(0)`: no events yet).
    Version,
    "version"
);

counter!(
    /// A global position in the local log, starting at 1 (`Position(0)` means "the
    /// start", before every event).
    Position,
    "position"
);

/// What the caller expects a stream's version to be when appending (optimistic
/// concurrency, as in EventStoreDB).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ExpectedVersion {
    /// No check (`"any"`).
    #[default]
    Any,
    /// The stream must have no events (`"no_stream"`).
    NoStream,
    /// The stream must have at least one event (`"exists"`).
    Exists,
    /// The stream must be exactly at this version (a number; `0` is the same as
    /// `NoStream`).
    Exact(Version),
}

impl ExpectedVersion {
    /// Whether a stream at version `actual` satisfies this expectation.
    pub fn accepts(self, actual: Version) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.0 == 0,
            ExpectedVersion::Exists => actual.0 > 0,
            ExpectedVersion::Exact(v) => v == actual,
        }
    }

    /// Parses the keyword forms `"any"`, `"no_stream"` and `"exists"`.
    pub fn from_keyword(keyword: &str) -> Result<Self> {
        match keyword {
            "any" => Ok(ExpectedVersion::Any),
            "no_stream" => Ok(ExpectedVersion::NoStream),
            "exists" => Ok(ExpectedVersion::Exists),
            other => Err(Invalid::new(
                "expectedVersion",
                format!(
                    "must be a version number, \"any\", \"no_stream\" or \"exists\"; got \"{other}\""
                ),
            )),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no_stream"),
            ExpectedVersion::Exists => f.write_str("exists"),
            ExpectedVersion::Exact(v) => v.fmt(f),
        }
    }
}

/// An event to append: what the caller supplies. The store assigns `stream`, `version`,
/// `position`, `recordedAt` and (when absent) `id`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent<P> {
    /// Caller-chosen id (the idempotency key); `None` lets the store make a UUIDv7.
    pub id: Option<EventId>,
    /// The event's type name.
    pub event_type: EventType,
    /// Its tags (validated by [`check_tags`] at append: count, no duplicates).
    pub tags: Vec<Tag>,
    /// The payload.
    pub data: P,
    /// Optional metadata (correlation ids, user, device...).
    pub meta: Option<P>,
    /// The payload's schema number (for upcasters); 1 unless said otherwise.
    pub schema: u32,
}

impl<P> NewEvent<P> {
    /// An event of `event_type` carrying `data`, with no id, no meta and schema 1.
    pub fn new(event_type: EventType, data: P) -> Self {
        NewEvent { id: None, event_type, tags: Vec::new(), data, meta: None, schema: 1 }
    }

    /// Sets the caller-chosen id.
    pub fn with_id(mut self, id: EventId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the tags.
    pub fn with_tags(mut self, tags: Vec<Tag>) -> Self {
        self.tags = tags;
        self
    }
}

/// A stored event: in a local store, and on the wire as the sync server returns it
/// (`protocol::WireEvent` is this type), in JSON
/// `{id, stream, version, position, type, tags, data, meta, recordedAt, schema}` (`tags`
/// left out when empty).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<P> {
    /// Unique id (idempotency key).
    pub id: EventId,
    /// The stream it belongs to.
    pub stream: StreamId,
    /// 1-based version inside the stream.
    pub version: Version,
    /// Position in the log it was read from: the local log, or the server's feed.
    pub position: Position,
    /// The event's type name.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Its tags (absent on the wire when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The payload.
    pub data: P,
    /// Metadata, if any (`null` or absent on the wire when none).
    #[serde(default = "no_meta")]
    pub meta: Option<P>,
    /// When it was recorded, in milliseconds since the Unix epoch (the client's clock at
    /// append; the server keeps it).
    pub recorded_at: u64,
    /// The payload's schema number (1 when absent on the wire).
    #[serde(default = "first_schema")]
    pub schema: u32,
}

fn no_meta<P>() -> Option<P> {
    None
}

fn first_schema() -> u32 {
    1
}

/// What an append wrote (or, for an idempotent retry, what the original append wrote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream appended to.
    pub stream: StreamId,
    /// Version of the first event of the batch.
    pub first_version: Version,
    /// Version of the last event of the batch: the stream's version after the append.
    pub last_version: Version,
    /// Global position of the first event.
    pub first_position: Position,
    /// Global position of the last event.
    pub last_position: Position,
}

/// Makes UUIDv7 event ids (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit
/// counter that keeps ids from one generator strictly increasing within a millisecond,
/// then 62 random bits that keep ids from different tabs and devices apart.
///
/// The clock and the randomness are passed in, so the generator is pure and testable;
/// the store feeds it `Date.now()` and `crypto.getRandomValues`.
#[derive(Debug, Default, Clone)]
pub struct IdGenerator {
    last_ms: u64,
    counter: u16,
}

impl IdGenerator {
    /// A generator with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next id for clock reading `now_ms` and 10 fresh random bytes.
    /// Ids are strictly increasing (as strings too) even if the clock goes backwards.
    pub fn next_id(&mut self, now_ms: u64, random: [u8; 10]) -> EventId {
        const COUNTER_MAX: u16 = 0x0fff;
        let now_ms = now_ms & 0xffff_ffff_ffff;
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            // Random start in the lower half leaves room to count up within the ms.
            self.counter = u16::from_be_bytes([random[0], random[1]]) & 0x07ff;
        } else if self.counter < COUNTER_MAX {
            self.counter += 1;
        } else {
            self.last_ms += 1;
            self.counter = 0;
        }
        let ms = self.last_ms.to_be_bytes();
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&ms[2..8]);
        b[6] = 0x70 | ((self.counter >> 8) as u8 & 0x0f);
        b[7] = self.counter as u8;
        b[8..].copy_from_slice(&random[2..10]);
        b[8] = 0x80 | (b[8] & 0x3f);
        let mut text = String::with_capacity(36);
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            text.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
        }
        EventId(text)
    }

    /// Makes later ids sort after `id` when it is a UUIDv7 this generator's kind made (a
    /// store reading its ids back from disk; other ids are ignored), so ids keep sorting
    /// in append order across a restart, even if the clock stepped back.
    #[cfg(feature = "file")]
    pub fn observe(&mut self, id: &EventId) {
        let b = id.as_str().as_bytes();
        if b.len() != 36 || b[14] != b'7' {
            return;
        }
        // Hex digits by hand: `from_str_radix` costs a good part of a big log's open.
        let hex = |range: std::ops::Range<usize>| {
            b[range].iter().try_fold(0u64, |n, &c| {
                let digit = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    _ => return None,
                };
                Some(n << 4 | u64::from(digit))
            })
        };
        let (Some(high), Some(low), Some(counter)) = (hex(0..8), hex(9..13), hex(15..18)) else {
            return;
        };
        let (ms, counter) = ((high << 16) | low, counter as u16);
        if (ms, counter) > (self.last_ms, self.counter) {
            (self.last_ms, self.counter) = (ms, counter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use proptest::prelude::*;

    #[test]
    fn stream_id_rules() {
        assert!(StreamId::new("cart-42").is_ok());
        assert!(StreamId::new("a/b ?#%20 ünïcødé 🛒").is_ok());
        let empty = StreamId::new("").unwrap_err();
        assert_eq!(empty.to_string(), "invalid stream: must not be empty");
        assert!(StreamId::new("x".repeat(256)).is_ok());
        let long = StreamId::new("x".repeat(257)).unwrap_err();
        assert_eq!(
            long.to_string(),
            "invalid stream: is 257 bytes long; the limit is 256 bytes (UTF-8)"
        );
        // 128 two-byte characters are 256 bytes: allowed; one more is not.
        assert!(StreamId::new("é".repeat(128)).is_ok());
        assert!(StreamId::new("é".repeat(129)).is_err());
        let ctl = StreamId::new("a\nb").unwrap_err();
        assert_eq!(
            ctl.to_string(),
            "invalid stream: must not contain control characters (found U+000A)"
        );
        assert!(StreamId::new("a\u{0085}b").is_err(), "C1 controls are rejected");
        assert!(StreamId::new("a\u{7f}").is_err(), "DEL is rejected");
        assert!(StreamId::from_utf8_bytes(&[0x61, 0xff]).is_err());
    }

    #[test]
    fn tag_rules() {
        let tags = |t: &[&str]| {
            tags_from_strings("events[0].tags", t.iter().map(|s| s.to_string()).collect())
        };
        assert_eq!(tags(&["username:ada", "course:c1"]).unwrap().len(), 2);
        assert!(tags(&[]).unwrap().is_empty());
        let empty = tags(&["a", ""]).unwrap_err();
        assert_eq!(empty.to_string(), "invalid events[0].tags[1]: must not be empty");
        let ctl = tags(&["a\u{1}"]).unwrap_err();
        assert_eq!(
            ctl.to_string(),
            "invalid events[0].tags[0]: must not contain control characters (found U+0001)"
        );
        let long = "x".repeat(MAX_TAG_BYTES + 1);
        assert!(tags(&[long.as_str()]).unwrap_err().to_string().contains("the limit is 256 bytes"));
        let twice = tags(&["a", "b", "a"]).unwrap_err();
        assert_eq!(twice.to_string(), "invalid events[0].tags[2]: a appears twice");
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        let too_many = tags_from_strings("events[0].tags", many).unwrap_err();
        assert_eq!(
            too_many.to_string(),
            "invalid events[0].tags: has 33 tags; an event carries at most 32"
        );
        assert_eq!(Error::from(too_many).js_name(), "InvalidInputError");
    }

    #[test]
    fn serde_validates() {
        #[derive(Debug, Deserialize)]
        struct S {
            #[allow(dead_code)]
            stream: StreamId,
        }
        fn parse(json_like: &str) -> std::result::Result<S, String> {
            // A tiny deserializer is enough: strings only.
            let de = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
                std::iter::once(("stream", json_like.to_string())),
            );
            S::deserialize(de).map_err(|e| e.to_string())
        }
        assert!(parse("ok").is_ok());
        assert!(parse("").unwrap_err().contains("must not be empty"));
    }

    #[test]
    fn versions_from_js_numbers() {
        assert_eq!(Version::from_f64(0.0).unwrap(), Version(0));
        assert_eq!(Version::from_f64(42.0).unwrap(), Version(42));
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 9007199254740992.0] {
            let err = Version::from_f64(bad).unwrap_err();
            assert_eq!(Error::from(err).js_name(), "InvalidInputError", "{bad}");
        }
        assert!(Position(MAX_SAFE_INTEGER).next().is_err());
        assert_eq!(Position(1).plus(2).unwrap(), Position(3));
    }

    #[test]
    fn expected_version_semantics() {
        use ExpectedVersion::*;
        assert!(Any.accepts(Version(0)) && Any.accepts(Version(9)));
        assert!(NoStream.accepts(Version(0)) && !NoStream.accepts(Version(1)));
        assert!(!Exists.accepts(Version(0)) && Exists.accepts(Version(1)));
        assert!(Exact(Version(3)).accepts(Version(3)) && !Exact(Version(3)).accepts(Version(2)));
        assert_eq!(ExpectedVersion::from_keyword("no_stream").unwrap(), NoStream);
        assert!(ExpectedVersion::from_keyword("latest").is_err());
        assert_eq!(Exact(Version(7)).to_string(), "7");
        assert_eq!(NoStream.to_string(), "no_stream");
    }

    #[test]
    fn uuid_v7_layout() {
        let mut g = IdGenerator::new();
        let id = g.next_id(0x0188_1234_5678, [0xff; 10]);
        let s = id.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[..13], "01881234-5678");
        assert_eq!(&s[14..15], "7", "version nibble");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "variant bits: {s}");
    }

    proptest! {
        #[test]
        fn stream_id_accepts_exactly_the_valid_strings(s in any::<String>()) {
            let valid = !s.is_empty() && s.len() <= MAX_STREAM_ID_BYTES
                && !s.chars().any(char::is_control);
            match StreamId::new(s.clone()) {
                Ok(id) => { prop_assert!(valid); prop_assert_eq!(id.as_str(), s.as_str()); }
                Err(e) => { prop_assert!(!valid); prop_assert_eq!(Error::from(e).js_name(), "InvalidInputError"); }
            }
        }

        #[test]
        fn stream_id_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let result = StreamId::from_utf8_bytes(&bytes);
            if std::str::from_utf8(&bytes).is_err() {
                prop_assert!(result.is_err());
            }
        }

        #[test]
        fn generated_ids_strictly_increase(
            steps in proptest::collection::vec((0u64..3, any::<[u8; 10]>()), 1..300),
            start in 0u64..(1 << 47),
        ) {
            let mut g = IdGenerator::new();
            let mut clock = start;
            let mut last = String::new();
            for (delta, random) in steps {
                // The clock may stand still or even step back by one.
                clock = (clock + delta).saturating_sub(1);
                let id = g.next_id(clock, random);
                prop_assert!(id.as_str() > last.as_str(), "{} <= {}", id, last);
                prop_assert!(EventId::new(id.as_str()).is_ok());
                last = id.as_str().to_string();
            }
        }

        #[test]
        fn versions_accept_only_safe_whole_numbers(x in any::<f64>()) {
            let ok = x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= MAX_SAFE_INTEGER as f64;
            prop_assert_eq!(Version::from_f64(x).is_ok(), ok);
        }
    }
}
