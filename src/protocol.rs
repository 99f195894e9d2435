//! The HTTP sync protocol shared by the client (outbox / sync engine) and the server
//! (`server/`): paths, query strings, entity tags, preconditions and the JSON bodies.
//!
//! Everything here is pure and total: every parser returns [`Error::InvalidInput`] on bad
//! input and never panics, whatever the bytes. `docs/protocol.md` is the prose
//! specification; this module is its executable form.
//!
//! ## Paths
//! `{base}/streams/{stream}` and `{base}/events`. The stream id is percent-encoded with
//! [`encode_stream_segment`]: every UTF-8 byte outside the RFC 3986 unreserved set
//! `A-Z a-z 0-9 - . _ ~` becomes `%XX` (upper-case hex), so the id is always exactly one
//! path segment: `a/b` is sent as `a%2Fb`, `%2F` as `%252F`. The ids `.` and `..` are
//! refused (URL parsers, `fetch` included, remove such segments as dot-segments whatever
//! their encoding, so no encoding can carry them).
//!
//! ## Entity tags
//! A stream's ETag is its version, a feed's ETag is its head position, both as a quoted
//! decimal: `"7"`. Preconditions (`If-Match`, `If-None-Match`) follow RFC 9110
//! section 13: `*` or a comma-separated list of entity tags; `If-Match` compares strongly
//! (a weak tag never matches), `If-None-Match` weakly. A stream with no events (version 0)
//! counts as having *no current representation* for `*`: `If-None-Match: *` holds exactly
//! when the stream is empty, `If-Match: *` exactly when it has events.
//!
//! ## Bodies
//! JSON, field names in camelCase. The wire types are generic over the payload type `P`
//! of `data` and `meta` (a JS value in the browser, `serde_json::Value` on the server).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{Event, EventId, EventType, Position, StreamId, Tag, Version, MAX_SAFE_INTEGER};

/// The path segment before a stream id: `{base}/streams/{stream}`.
pub const STREAMS_SEGMENT: &str = "streams";
/// The path segment of the space's feed: `{base}/events`.
pub const FEED_SEGMENT: &str = "events";
/// Header name `ETag`.
pub const ETAG: &str = "ETag";
/// Header name `If-Match`.
pub const IF_MATCH: &str = "If-Match";
/// Header name `If-None-Match`.
pub const IF_NONE_MATCH: &str = "If-None-Match";
/// Header name `Allow`.
pub const ALLOW: &str = "Allow";
/// Header name `Retry-After`.
pub const RETRY_AFTER: &str = "Retry-After";
/// Header name `Content-Type`.
pub const CONTENT_TYPE: &str = "Content-Type";
/// Header name `Cache-Control`.
pub const CACHE_CONTROL: &str = "Cache-Control";
/// The media type of every body in the protocol.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Largest request body a server accepts, in bytes (1 MiB; `413 body_too_large` above).
/// The server's default limit, and the JS front door's (`js/front.js`, `MAX_BODY_BYTES`:
/// a test checks they agree).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest event a server stores, in bytes (100 KiB; `422 event_too_large` above): the
/// event's JSON as reads serve it, measured with the widest version and position
/// ([`MAX_SAFE_INTEGER`]). It keeps each stored value under the 128 KiB Durable Object
/// limit, and it is what a client refuses at append by default when it syncs (larger
/// events could only ever become dead letters). Far below [`MAX_BODY_BYTES`], so one
/// event always fits in a push.
pub const MAX_EVENT_BYTES: usize = 100 * 1024;

// ---------------------------------------------------------------------------------------
// Base URL
// ---------------------------------------------------------------------------------------

/// Checks a client's base URL (`{base}` of the paths): absolute `http://` or `https://`
/// (any case) with a host, no spaces or ASCII control characters, no query, no fragment,
/// no user info (credentials never go in a URL). `Err` says what is wrong with it, for
/// an [`Error::InvalidInput`] on the field that holds it. (Byte by byte, without string
/// searchers or formatting: it ships in the browser build.)
pub fn check_base_url(url: &str) -> std::result::Result<(), &'static str> {
    let bytes = url.as_bytes();
    if bytes.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(
            "must be an http(s) URL without spaces, e.g. https://sync.example.com/v1/my-space",
        );
    }
    let scheme_end = bytes.iter().position(|&b| b == b':').unwrap_or(0);
    if scheme_end == 0 || !bytes[scheme_end..].starts_with(b"://") {
        return Err("must be an absolute http(s) URL, e.g. https://sync.example.com/v1/my-space");
    }
    let scheme = &bytes[..scheme_end];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return Err("must use http or https, e.g. https://sync.example.com/v1/my-space");
    }
    if bytes.iter().any(|&b| b == b'?' || b == b'#') {
        return Err("must be a base URL without query or fragment, e.g. https://sync.example.com/v1/my-space");
    }
    let rest = &bytes[scheme_end + 3..];
    let authority = &rest[..rest.iter().position(|&b| b == b'/').unwrap_or(rest.len())];
    if authority.contains(&b'@') {
        return Err("must not carry credentials: give the token as sync.token");
    }
    // The port: after the last ':' that is not inside an IPv6 literal's brackets.
    let (host, port) = match authority.iter().rposition(|&b| b == b':') {
        Some(i) if !authority[i..].contains(&b']') => (&authority[..i], &authority[i + 1..]),
        _ => (authority, &authority[authority.len()..]),
    };
    if host.is_empty() || host == b"[]" {
        return Err("has no host, e.g. https://sync.example.com/v1/my-space");
    }
    if port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return Err("has an invalid port");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn is_dot_segment(text: &str) -> bool {
    text == "." || text == ".."
}

fn dot_segment_error() -> Error {
    Error::invalid(
        "stream",
        "the stream ids \".\" and \"..\" cannot be used in a URL path (URL parsers remove \
         them as dot-segments); choose another stream id",
    )
}

/// Percent-encodes a stream id into one path segment: every byte outside `A-Za-z0-9-._~`
/// becomes `%XX` (upper-case hex). Fails only for the ids `.` and `..`, which no URL can
/// carry as a segment.
pub fn encode_stream_segment(stream: &StreamId) -> Result<String> {
    if is_dot_segment(stream.as_str()) {
        return Err(dot_segment_error());
    }
    Ok(percent_encode(stream.as_str()))
}

/// Every byte outside `A-Za-z0-9-._~` as `%XX` (upper-case hex).
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one path segment into a stream id: `%XX` sequences (either case) become bytes,
/// other characters stand for themselves; the result must be UTF-8 and a valid
/// [`StreamId`]. A raw `/`, `?` or `#`, a `%` not followed by two hex digits, and the ids
/// `.` and `..` are errors. A decoded `/` (from `%2F`) stays inside the id.
pub fn decode_stream_segment(segment: &str) -> Result<StreamId> {
    let stream = StreamId::from_utf8_bytes(&percent_decode("stream", segment, b"/?#")?)?;
    if is_dot_segment(stream.as_str()) {
        return Err(dot_segment_error());
    }
    Ok(stream)
}

/// `%XX` sequences (either case) become bytes, other characters stand for themselves;
/// a raw byte of `forbidden` or a `%` not followed by two hex digits is an error naming
/// `field`.
fn percent_decode(field: &str, text: &str, forbidden: &[u8]) -> Result<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let high = bytes.get(i + 1).copied().and_then(hex_value);
            let low = bytes.get(i + 2).copied().and_then(hex_value);
            let (Some(h), Some(l)) = (high, low) else {
                return Err(Error::invalid(
                    field,
                    format!(
                        "bad percent-encoding at byte {i}: '%' must be followed by two hex digits"
                    ),
                ));
            };
            out.push(h << 4 | l);
            i += 3;
        } else if forbidden.contains(&byte) {
            return Err(Error::invalid(
                field,
                format!("contains a raw '{}'; encode it as %XX", char::from(byte)),
            ));
        } else {
            out.push(byte);
            i += 1;
        }
    }
    Ok(out)
}

fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// `{base}/streams/{encoded stream}`; a trailing `/` on `base` is ignored. Fails only for
/// the stream ids `.` and `..` (see [`encode_stream_segment`]).
pub fn stream_path(base: &str, stream: &StreamId) -> Result<String> {
    Ok(format!("{}/{STREAMS_SEGMENT}/{}", trim_base(base), encode_stream_segment(stream)?))
}

/// `{base}/events`, the space's feed; a trailing `/` on `base` is ignored.
pub fn feed_path(base: &str) -> String {
    format!("{}/{FEED_SEGMENT}", trim_base(base))
}

/// A resource of the protocol, as found by [`parse_route`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `{base}/streams/{stream}`.
    Stream(StreamId),
    /// `{base}/events`.
    Feed,
}

/// Parses a path relative to the base (`/streams/{stream}` or `/events`, without the
/// query). `Ok(None)`: no such resource (404; also `/streams/` with an empty segment). `Err`: the path names a stream but its
/// segment is not a valid stream id (400).
pub fn parse_route(path: &str) -> Result<Option<Route>> {
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(None);
    };
    if rest == FEED_SEGMENT {
        return Ok(Some(Route::Feed));
    }
    match rest.split_once('/') {
        Some((STREAMS_SEGMENT, segment)) if !segment.is_empty() && !segment.contains('/') => {
            decode_stream_segment(segment).map(|s| Some(Route::Stream(s)))
        }
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------

/// The query of a read: `after=<n>&limit=<n>` (both optional). `after` is a version for a
/// stream read and a position for a feed read; `0` (the default) means "from the start".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadQuery {
    /// Return events strictly after this version / position.
    pub after: u64,
    /// Return at most this many events (at least 1); `None`: the server's maximum.
    /// The server clamps larger values to its maximum.
    pub limit: Option<u64>,
}

fn parse_decimal(field: &str, value: &str) -> Result<u64> {
    if value.is_empty() || value.len() > 16 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            field,
            format!("must be a decimal whole number from 0 to 2^53 - 1, got \"{value}\""),
        ));
    }
    match value.parse::<u64>() {
        Ok(n) if n <= MAX_SAFE_INTEGER => Ok(n),
        _ => Err(Error::invalid(field, "exceeds 2^53 - 1 (Number.MAX_SAFE_INTEGER)")),
    }
}

impl ReadQuery {
    /// Parses a query string (without the `?`). Unknown parameters are ignored (so caches
    /// busters and future extensions pass); `after` and `limit` must be plain decimals,
    /// appear at most once, and `limit` must be at least 1.
    pub fn parse(query: &str) -> Result<Self> {
        let mut after = None;
        let mut limit = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "after" => &mut after,
                "limit" => &mut limit,
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::invalid(name, "is given more than once"));
            }
            *slot = Some(parse_decimal(name, value)?);
        }
        if limit == Some(0) {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        Ok(ReadQuery { after: after.unwrap_or(0), limit })
    }

    /// The query string (without the `?`), e.g. `after=7&limit=100`.
    pub fn to_query_string(&self) -> String {
        match self.limit {
            Some(limit) => format!("after={}&limit={limit}", self.after),
            None => format!("after={}", self.after),
        }
    }
}

/// Most `stream` and `prefix` parameters one filtered feed read may carry (they travel in
/// the URL, which servers and proxies bound at a few KiB).
pub const MAX_FILTER_ITEMS: usize = 100;

/// What a partial feed read selects (`GET {base}/events?stream=…&prefix=…`): the events of
/// the streams named, and of every stream whose id starts with one of the prefixes. A
/// prefix follows the rules of a stream id (1 to 256 bytes, no control characters). No
/// filter at all (no such parameter) is the whole feed. A further kind of selector (tag
/// queries, once events carry tags) is one more list here, one more arm of
/// [`FeedFilter::matches`], one more query parameter and one more list in the client's
/// lane bookkeeping (`sync/scope.rs`); the server's search and the ETag rule stay as they
/// are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedFilter {
    /// Streams selected by id.
    #[serde(default)]
    pub streams: Vec<StreamId>,
    /// Streams selected by the start of their id.
    #[serde(default)]
    pub prefixes: Vec<StreamId>,
}

impl FeedFilter {
    /// Whether `stream` is in this filter's scope.
    pub fn matches(&self, stream: &StreamId) -> bool {
        self.streams.contains(stream)
            || self.prefixes.iter().any(|p| stream.as_str().starts_with(p.as_str()))
    }

    /// Whether this filter selects no stream at all.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.prefixes.is_empty()
    }

    /// The filter of a query string (without the `?`): its `stream` and `prefix`
    /// parameters, each value percent-encoded like a stream segment (section 2.1 of
    /// docs/protocol.md). `None` when it has neither (the whole feed).
    pub fn parse(query: &str) -> Result<Option<Self>> {
        let mut filter = FeedFilter::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let list = match name {
                "stream" => &mut filter.streams,
                "prefix" => &mut filter.prefixes,
                _ => continue,
            };
            let id = StreamId::from_utf8_bytes(&percent_decode(name, value, b"")?)
                .map_err(|e| Error::invalid(name, e.to_string()))?;
            if !list.contains(&id) {
                list.push(id);
            }
        }
        if filter.streams.len() + filter.prefixes.len() > MAX_FILTER_ITEMS {
            return Err(Error::invalid(
                "stream",
                format!("a filter holds at most {MAX_FILTER_ITEMS} streams and prefixes"),
            ));
        }
        Ok((!filter.is_empty()).then_some(filter))
    }

    /// The query parameters (`stream=…&prefix=…`, without a leading `&`).
    pub fn to_query_string(&self) -> String {
        let mut out = String::new();
        for (name, ids) in [("stream=", &self.streams), ("prefix=", &self.prefixes)] {
            for id in ids {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(name);
                out.push_str(&percent_encode(id.as_str()));
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Entity tags and preconditions (RFC 9110 section 8.8.3 and 13)
// ---------------------------------------------------------------------------------------

/// An entity tag: `"opaque"` or weak `W/"opaque"`. The protocol's own tags are quoted
/// decimals (`"7"`), but any syntactically valid tag is accepted in preconditions (it
/// just never matches).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntityTag {
    /// `W/` prefix present.
    pub weak: bool,
    /// The characters between the quotes.
    pub opaque: String,
}

impl EntityTag {
    /// The strong tag of a version or position: `"7"`.
    pub fn number(n: u64) -> Self {
        EntityTag { weak: false, opaque: n.to_string() }
    }

    /// The decimal number inside the tag, if it is one of the protocol's tags.
    pub fn as_number(&self) -> Option<u64> {
        parse_decimal("etag", &self.opaque).ok()
    }

    /// Strong comparison: both strong and the same opaque string.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison: the same opaque string, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.opaque == other.opaque
    }

    /// Parses exactly one entity tag (an `ETag` header value).
    pub fn parse(text: &str) -> Result<Self> {
        let mut scanner = Scanner { bytes: text.as_bytes(), at: 0, field: ETAG };
        scanner.skip_ows();
        let tag = scanner.entity_tag()?;
        scanner.skip_ows();
        if scanner.at != scanner.bytes.len() {
            return Err(scanner.error("unexpected characters after the entity tag"));
        }
        Ok(tag)
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

/// The `ETag` header value of a version or position: `"7"`.
pub fn etag(n: u64) -> String {
    EntityTag::number(n).to_string()
}

/// A parsed `If-Match` / `If-None-Match` header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current representation.
    Any,
    /// One or more entity tags.
    Tags(Vec<EntityTag>),
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    field: &'static str,
}

impl Scanner<'_> {
    fn error(&self, message: &str) -> Error {
        Error::invalid(self.field, format!("{message} (at byte {})", self.at))
    }

    fn skip_ows(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn entity_tag(&mut self) -> Result<EntityTag> {
        let weak = self.bytes.get(self.at..self.at + 2) == Some(b"W/".as_slice());
        if weak {
            self.at += 2;
        }
        if self.bytes.get(self.at) != Some(&b'"') {
            return Err(self.error("expected an entity tag: \"...\" or W/\"...\""));
        }
        self.at += 1;
        let start = self.at;
        loop {
            match self.bytes.get(self.at) {
                Some(b'"') => break,
                // etagc = %x21 / %x23-7E / obs-text
                Some(&b) if b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80 => self.at += 1,
                Some(_) => return Err(self.error("invalid character inside an entity tag")),
                None => return Err(self.error("unterminated entity tag (missing closing quote)")),
            }
        }
        let opaque = self
            .bytes
            .get(start..self.at)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| self.error("invalid entity tag"))?
            .to_string();
        self.at += 1; // closing quote
        Ok(EntityTag { weak, opaque })
    }
}

impl Precondition {
    /// Parses a header value: `*`, or a comma-separated list of entity tags (optional
    /// whitespace around commas, empty list elements ignored, at least one tag). The
    /// error's field is `If-Match`; use [`Precondition::parse_field`] to name another.
    pub fn parse(value: &str) -> Result<Self> {
        Self::parse_field(IF_MATCH, value)
    }

    /// [`Precondition::parse`] with the header name to report in errors.
    pub fn parse_field(field: &'static str, value: &str) -> Result<Self> {
        let trimmed = value.trim_matches(|c| c == ' ' || c == '\t');
        if trimmed == "*" {
            return Ok(Precondition::Any);
        }
        let mut scanner = Scanner { bytes: value.as_bytes(), at: 0, field };
        let mut tags = Vec::new();
        loop {
            scanner.skip_ows();
            match scanner.bytes.get(scanner.at) {
                None => break,
                Some(b',') => {
                    scanner.at += 1;
                    continue;
                }
                Some(b'*') => {
                    return Err(
                        scanner.error("'*' must be the whole header value, not part of a list")
                    )
                }
                Some(_) => {}
            }
            tags.push(scanner.entity_tag()?);
            scanner.skip_ows();
            match scanner.bytes.get(scanner.at) {
                None => break,
                Some(b',') => scanner.at += 1,
                Some(_) => return Err(scanner.error("expected ',' between entity tags")),
            }
        }
        if tags.is_empty() {
            return Err(Error::invalid(
                field,
                "must be '*' or at least one entity tag, e.g. \"7\"",
            ));
        }
        Ok(Precondition::Tags(tags))
    }

    /// Evaluates as `If-Match` (RFC 9110 section 13.1.1) against the resource's current
    /// ETag: `*` holds when `exists`; a list holds when one of its tags matches `current`
    /// by strong comparison. In this protocol a stream or feed always has an ETag (`"0"`
    /// when empty) but `exists` only when it holds at least one event.
    pub fn if_match(&self, current: &EntityTag, exists: bool) -> bool {
        match self {
            Precondition::Any => exists,
            Precondition::Tags(tags) => tags.iter().any(|t| t.strong_eq(current)),
        }
    }

    /// Evaluates as `If-None-Match` (RFC 9110 section 13.1.2): `*` holds when not
    /// `exists`; a list holds when none of its tags matches `current` by weak comparison.
    pub fn if_none_match(&self, current: &EntityTag, exists: bool) -> bool {
        match self {
            Precondition::Any => !exists,
            Precondition::Tags(tags) => !tags.iter().any(|t| t.weak_eq(current)),
        }
    }

    /// The single version this precondition pins when it is one strong numeric tag
    /// (`If-Match: "7"` gives `Some(7)`).
    pub fn single_number(&self) -> Option<u64> {
        match self {
            Precondition::Tags(tags) => match tags.as_slice() {
                [tag] if !tag.weak => tag.as_number(),
                _ => None,
            },
            Precondition::Any => None,
        }
    }
}

impl fmt::Display for Precondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Precondition::Any => f.write_str("*"),
            Precondition::Tags(tags) => {
                for (i, tag) in tags.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    tag.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------

fn schema_one() -> u32 {
    1
}

/// One event in a push request:
/// `{id, type, data, meta, recordedAt, schema}` (`meta` may be absent or `null`,
/// `schema` defaults to 1). Unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushEvent<P> {
    /// The event's id: the idempotency key, required.
    pub id: EventId,
    /// The event's type name.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Its tags (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The payload.
    pub data: P,
    /// Metadata, if any.
    #[serde(default = "none")]
    pub meta: Option<P>,
    /// When the client recorded it (ms since the Unix epoch); the server keeps it.
    pub recorded_at: u64,
    /// The payload's schema number.
    #[serde(default = "schema_one")]
    pub schema: u32,
}

impl<P: Clone> PushEvent<P> {
    /// The event as a store keeps it once accepted at `version` of `stream` and
    /// `position` of the feed.
    pub fn stored_at(&self, stream: &StreamId, version: Version, position: Position) -> Event<P> {
        Event {
            id: self.id.clone(),
            stream: stream.clone(),
            version,
            position,
            event_type: self.event_type.clone(),
            tags: self.tags.clone(),
            data: self.data.clone(),
            meta: self.meta.clone(),
            recorded_at: self.recorded_at,
            schema: self.schema,
        }
    }

    /// A batch as a store keeps it once accepted after `version` of `stream` and `head` of
    /// the feed: consecutive versions and positions from the next ones. Computed before
    /// anything is written, so an overflow writes nothing.
    pub fn stored_batch(
        events: &[PushEvent<P>],
        stream: &StreamId,
        version: Version,
        head: Position,
    ) -> Result<Vec<Event<P>>> {
        (1u64..)
            .zip(events)
            .map(|(n, event)| Ok(event.stored_at(stream, version.plus(n)?, head.plus(n)?)))
            .collect()
    }
}

fn none<P>() -> Option<P> {
    None
}

/// The body of `POST {base}/streams/{stream}`: `{"events": [...], "conditions": [...]}`
/// (`conditions` optional).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushRequest<P> {
    /// The batch, in order; the server gives them consecutive versions.
    pub events: Vec<PushEvent<P>>,
    /// The append conditions of the batch's conditional appends, re-checked by the server
    /// atomically with the write (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<PushCondition>,
}

/// An append condition as a push carries it: the append that starts at `events[event]`
/// fails (`412 condition_failed`) when an event of the space's feed after `after` (the
/// feed position the device had pulled when it decided) matches `failIfEventsMatch`,
/// unless its id is in `known` (the device's own pending events that its decision saw).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushCondition {
    /// Index in `events` of the first event of the conditional append.
    pub event: usize,
    /// The query whose matches fail the append.
    pub fail_if_events_match: crate::query::Query,
    /// The feed position the decision had seen.
    pub after: Position,
    /// Ids of events the decision saw that were not on the server yet.
    #[serde(default)]
    pub known: Vec<EventId>,
}

/// The body of a `412 condition_failed` answer: which condition failed and the first
/// feed event that matched it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionFailedBody<P> {
    /// Always `"condition_failed"`.
    pub error: String,
    /// Explanation for people.
    pub message: String,
    /// The stream pushed to.
    pub stream: StreamId,
    /// Index in `conditions` of the condition that failed.
    pub condition: usize,
    /// The first matching event, as the feed serves it.
    pub event: WireEvent<P>,
}

/// Where the server stored one pushed event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    /// The event's id.
    pub id: EventId,
    /// Its version in the stream.
    pub version: Version,
    /// Its position in the space's feed.
    pub position: Position,
}

/// The body of a `201` (or idempotent `200`) answer to a push:
/// `{version, events: [{id, version, position}]}`. `version` is the stream's version
/// right after this batch (the version of its last event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The version of the batch's last event.
    pub version: Version,
    /// One ack per pushed event, in the request's order.
    pub events: Vec<PushAck>,
}

/// An event as the server returns it in reads:
/// `{id, stream, version, position, type, data, meta, recordedAt, schema}`, with the
/// server's version and feed position. The same type as a stored [`Event`].
pub type WireEvent<P> = Event<P>;

impl<P> From<Event<P>> for PushEvent<P> {
    /// The event as a push carries it (its stream, version and position left behind).
    fn from(e: Event<P>) -> Self {
        PushEvent {
            id: e.id,
            event_type: e.event_type,
            tags: e.tags,
            data: e.data,
            meta: e.meta,
            recorded_at: e.recorded_at,
            schema: e.schema,
        }
    }
}

/// The body of `GET {base}/streams/{stream}`: `{version, events}`; `version` is the
/// stream's current version (equal to the `ETag`), whatever `after`/`limit` selected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamReadResponse<P> {
    /// The stream's current version.
    pub version: Version,
    /// The selected events, by ascending version.
    pub events: Vec<WireEvent<P>>,
}

/// The body of `GET {base}/events`: `{head, events}`; `head` is the position of the
/// space's last event (0 when there is none, equal to the `ETag`), whatever
/// `after`/`limit` selected. The client is done paging when its last position is `head`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedReadResponse<P> {
    /// The space's last position.
    pub head: Position,
    /// The selected events, by ascending position.
    pub events: Vec<WireEvent<P>>,
    /// A filtered read only: the position through which the feed was searched (every
    /// event of the filter's scope up to it is in `events`); the client's next `after`.
    /// Absent from unfiltered reads (and from servers that predate filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<Position>,
}

/// Every error body: `{error, message}`; `error` is a stable machine code (see
/// `docs/protocol.md`), `message` plain words for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `"invalid_event"`.
    pub error: String,
    /// Explanation for people.
    pub message: String,
}

/// What a rejected push expected, in a `412` body: a version number when the
/// precondition pinned one (`If-Match: "7"` gives `7`, `If-None-Match: *` gives `0`),
/// `"exists"` for `If-Match: *`, otherwise the precondition headers as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExpectedOnWire {
    /// A single expected version.
    Version(Version),
    /// A keyword or the header text.
    Other(String),
}

/// The `412` body: `{error: "version_conflict", message, stream, expectedVersion,
/// actualVersion}`; the response's `ETag` is the current version too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictBody {
    /// Always `"version_conflict"`.
    pub error: String,
    /// Explanation for people.
    pub message: String,
    /// The stream pushed to.
    pub stream: StreamId,
    /// What the request expected.
    pub expected_version: ExpectedOnWire,
    /// The stream's current version.
    pub actual_version: Version,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sid(s: &str) -> StreamId {
        StreamId::new(s).unwrap()
    }

    #[test]
    fn base_urls_are_absolute_http_with_a_host() {
        for good in [
            "https://sync.example.com/v1/space",
            "http://127.0.0.1:8787/v1/s",
            "HTTPS://Example.com",
            "http://[::1]:8080/v1/s",
            "http://localhost:8787/v1/a%20b",
        ] {
            assert_eq!(check_base_url(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("not a url", "without spaces"),
            ("ftp://x/", "http or https"),
            ("file:///tmp/x", "http or https"),
            ("/v1/space", "absolute"),
            ("sync.example.com/v1/s", "absolute"),
            ("https:///v1/s", "no host"),
            ("https://", "no host"),
            ("https://h/v1/s?x=1", "query"),
            ("https://h/v1/s#f", "fragment"),
            ("https://user:pw@h/v1/s", "credentials"),
            ("https://h:80x/v1", "invalid port"),
            ("https://h\n/v1", "spaces"),
            ("", "absolute"),
        ] {
            let message = check_base_url(bad).unwrap_err();
            assert!(message.contains(says), "{bad:?}: {message}");
        }
    }

    #[test]
    fn the_js_front_door_and_the_client_share_the_limits() {
        // js/front.js answers 413 before the core sees the body; js/batch.js measures an
        // event as the server does (with a stand-in id and time of the same widths).
        let front = include_str!("../js/front.js");
        let body = format!("export const MAX_BODY_BYTES = {} * 1024;", MAX_BODY_BYTES / 1024);
        assert!(front.contains(&body), "js/front.js must declare {body}");
        assert_eq!(MAX_BODY_BYTES % 1024, 0);
        const { assert!(MAX_EVENT_BYTES * 2 < MAX_BODY_BYTES) };
    }

    #[test]
    fn encodes_everything_outside_unreserved() {
        assert_eq!(encode_stream_segment(&sid("cart-42")).unwrap(), "cart-42");
        assert_eq!(encode_stream_segment(&sid("a b/c")).unwrap(), "a%20b%2Fc");
        assert_eq!(encode_stream_segment(&sid("%2F")).unwrap(), "%252F");
        assert_eq!(encode_stream_segment(&sid("é")).unwrap(), "%C3%A9");
        assert_eq!(encode_stream_segment(&sid("a+b?c#d")).unwrap(), "a%2Bb%3Fc%23d");
        assert_eq!(encode_stream_segment(&sid("...")).unwrap(), "...");
        assert_eq!(encode_stream_segment(&sid("../x")).unwrap(), "..%2Fx");
        for dots in [".", ".."] {
            let err = encode_stream_segment(&sid(dots)).unwrap_err();
            assert!(err.to_string().contains("dot-segments"), "{err}");
        }
    }

    #[test]
    fn decodes_and_validates() {
        assert_eq!(decode_stream_segment("a%2Fb").unwrap(), sid("a/b"));
        assert_eq!(decode_stream_segment("a%2fb").unwrap(), sid("a/b"));
        assert_eq!(decode_stream_segment("%252F").unwrap(), sid("%2F"));
        assert_eq!(decode_stream_segment("a:b@c").unwrap(), sid("a:b@c"));
        assert_eq!(decode_stream_segment("%F0%9F%9B%92").unwrap(), sid("🛒"));
        assert_eq!(decode_stream_segment("..%2F..%2Fetc").unwrap(), sid("../../etc"));
        for bad in [
            "", "%", "%2", "%zz", "a%2", "%C3", "%FF", "a%00b", "%0A", "a/b", "a?b", "..", ".",
            "%2E%2E", "%2e",
        ] {
            assert!(decode_stream_segment(bad).is_err(), "{bad:?} should fail");
        }
        let long = "x".repeat(257);
        assert!(decode_stream_segment(&long).is_err());
        assert!(decode_stream_segment(&"%41".repeat(256)).is_ok());
    }

    #[test]
    fn paths_and_routes() {
        assert_eq!(
            stream_path("https://h/v1/s/", &sid("a/b")).unwrap(),
            "https://h/v1/s/streams/a%2Fb"
        );
        assert_eq!(feed_path("/v1/s"), "/v1/s/events");
        assert_eq!(parse_route("/events").unwrap(), Some(Route::Feed));
        assert_eq!(parse_route("/streams/a%2Fb").unwrap(), Some(Route::Stream(sid("a/b"))));
        for unknown in [
            "",
            "/",
            "events",
            "/events/",
            "/streams",
            "/streams/",
            "/streams/a/b",
            "/streams/..%2F/x",
            "/other/x",
            "/streams/../events",
        ] {
            let parsed = parse_route(unknown);
            assert!(matches!(parsed, Ok(None)), "{unknown:?} gave {parsed:?}");
        }
        assert!(parse_route("/streams/..").is_err());
        assert!(parse_route("/streams/%ZZ").is_err());
    }

    #[test]
    fn read_queries() {
        assert_eq!(ReadQuery::parse("").unwrap(), ReadQuery::default());
        assert_eq!(
            ReadQuery::parse("after=7&limit=10").unwrap(),
            ReadQuery { after: 7, limit: Some(10) }
        );
        assert_eq!(
            ReadQuery::parse("limit=1&_=123&&after=0").unwrap(),
            ReadQuery { after: 0, limit: Some(1) }
        );
        assert_eq!(ReadQuery::parse("after=9007199254740991").unwrap().after, MAX_SAFE_INTEGER);
        for bad in [
            "after=",
            "after",
            "after=-1",
            "after=1.5",
            "after=+1",
            "after= 1",
            "after=9007199254740992",
            "after=99999999999999999999",
            "limit=0",
            "after=1&after=2",
            "limit=x",
            "after=%31",
        ] {
            assert!(ReadQuery::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            ReadQuery::parse("limit=0").unwrap_err().to_string(),
            "invalid limit: must be at least 1"
        );
        let q = ReadQuery { after: 3, limit: Some(5) };
        assert_eq!(ReadQuery::parse(&q.to_query_string()).unwrap(), q);
    }

    #[test]
    fn entity_tags() {
        assert_eq!(etag(7), "\"7\"");
        let weak = EntityTag::parse("W/\"7\"").unwrap();
        assert!(weak.weak && weak.as_number() == Some(7));
        assert_eq!(weak.to_string(), "W/\"7\"");
        let strong = EntityTag::number(7);
        assert!(strong.strong_eq(&strong) && !strong.strong_eq(&weak) && strong.weak_eq(&weak));
        assert_eq!(EntityTag::parse(" \"\" ").unwrap().opaque, "");
        for bad in ["7", "\"7", "w/\"7\"", "\"7\" x", "\"a b\"", "W/ \"7\""] {
            assert!(EntityTag::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn preconditions_parse_per_rfc_9110() {
        use Precondition::*;
        assert_eq!(Precondition::parse("*").unwrap(), Any);
        assert_eq!(Precondition::parse(" * ").unwrap(), Any);
        assert_eq!(Precondition::parse("\"7\"").unwrap(), Tags(vec![EntityTag::number(7)]));
        let list = Precondition::parse(" \"1\" ,W/\"2\",, \"x,y\"\t").unwrap();
        assert_eq!(list.to_string(), "\"1\", W/\"2\", \"x,y\"");
        for bad in [
            "",
            " ",
            ",",
            "*, \"1\"",
            "\"1\", *",
            "**",
            "1",
            "\"1\" \"2\"",
            "\"1",
            "W/1",
            "\"\u{7f}\"",
        ] {
            assert!(Precondition::parse(bad).is_err(), "{bad:?}");
        }
        let err = Precondition::parse_field(IF_NONE_MATCH, "x").unwrap_err();
        assert!(err.to_string().starts_with("invalid If-None-Match"), "{err}");
    }

    #[test]
    fn precondition_evaluation() {
        let v7 = EntityTag::number(7);
        let p = |s: &str| Precondition::parse(s).unwrap();
        let v0 = EntityTag::number(0);
        // If-Match: strong comparison.
        assert!(p("\"7\"").if_match(&v7, true));
        assert!(p("\"3\", \"7\"").if_match(&v7, true));
        assert!(!p("W/\"7\"").if_match(&v7, true));
        assert!(!p("\"6\"").if_match(&v7, true));
        assert!(p("*").if_match(&v7, true) && !p("*").if_match(&v0, false));
        assert!(p("\"0\"").if_match(&v0, false), "an empty stream matches \"0\"");
        // If-None-Match: weak comparison.
        assert!(!p("W/\"7\"").if_none_match(&v7, true));
        assert!(!p("\"1\", \"7\"").if_none_match(&v7, true));
        assert!(p("\"6\"").if_none_match(&v7, true));
        assert!(!p("*").if_none_match(&v7, true) && p("*").if_none_match(&v0, false));
        assert!(!p("\"0\"").if_none_match(&v0, false), "\"0\" is current on an empty stream");
        assert_eq!(p("\"7\"").single_number(), Some(7));
        assert_eq!(p("W/\"7\"").single_number(), None);
        assert_eq!(p("\"7\", \"8\"").single_number(), None);
    }

    #[cfg(feature = "server")]
    #[test]
    fn bodies_are_camel_case() {
        let ack = PushResponse {
            version: Version(2),
            events: vec![PushAck {
                id: EventId::new("e1").unwrap(),
                version: Version(2),
                position: Position(9),
            }],
        };
        let json = serde_json::to_string(&ack).unwrap();
        assert_eq!(json, r#"{"version":2,"events":[{"id":"e1","version":2,"position":9}]}"#);
        let push: PushRequest<serde_json::Value> = serde_json::from_str(
            r#"{"events":[{"id":"e1","type":"T","data":{"a":1},"recordedAt":5}]}"#,
        )
        .unwrap();
        assert_eq!(push.events[0].meta, None);
        assert_eq!(push.events[0].schema, 1);
        let conflict = ConflictBody {
            error: "version_conflict".into(),
            message: "m".into(),
            stream: sid("s"),
            expected_version: ExpectedOnWire::Version(Version(1)),
            actual_version: Version(2),
        };
        assert_eq!(
            serde_json::to_string(&conflict).unwrap(),
            r#"{"error":"version_conflict","message":"m","stream":"s","expectedVersion":1,"actualVersion":2}"#
        );
        let event = WireEvent {
            id: EventId::new("e").unwrap(),
            stream: sid("s"),
            version: Version(1),
            position: Position(1),
            event_type: EventType::new("T").unwrap(),
            tags: Vec::new(),
            data: serde_json::json!(null),
            meta: None,
            recorded_at: 3,
            schema: 1,
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"id":"e","stream":"s","version":1,"position":1,"type":"T","data":null,"meta":null,"recordedAt":3,"schema":1}"#
        );
    }

    proptest! {
        #[test]
        fn precondition_parser_never_panics(s in any::<String>()) {
            let _ = Precondition::parse(&s);
            let _ = EntityTag::parse(&s);
        }

        #[test]
        fn precondition_parser_never_panics_on_header_like_input(
            s in r#"[ \t,*W/"0-9a-z\x{80}-\x{10FFFF}]{0,40}"#
        ) {
            if let Ok(p) = Precondition::parse(&s) {
                // Whatever parses re-parses to the same thing from its canonical form.
                prop_assert_eq!(Precondition::parse(&p.to_string()).unwrap(), p);
            }
        }

        #[test]
        fn query_parser_never_panics(s in any::<String>()) {
            let _ = ReadQuery::parse(&s);
            let _ = parse_route(&s);
        }

        #[test]
        fn stream_segments_round_trip(s in any::<String>()) {
            if let Ok(id) = StreamId::new(s) {
                match encode_stream_segment(&id) {
                    Ok(segment) => {
                        prop_assert!(segment.bytes().all(|b| is_unreserved(b) || b == b'%'));
                        prop_assert_eq!(decode_stream_segment(&segment).unwrap(), id.clone());
                        let path = format!("/streams/{segment}");
                        prop_assert_eq!(parse_route(&path).unwrap(), Some(Route::Stream(id)));
                    }
                    Err(_) => prop_assert!(is_dot_segment(id.as_str())),
                }
            }
        }

        #[test]
        fn stream_segments_round_trip_odd_ids(s in r"[./%~ a-zA-Z\x{80}-\x{10FFFF}]{1,60}") {
            if let Ok(id) = StreamId::new(s) {
                if let Ok(segment) = encode_stream_segment(&id) {
                    prop_assert!(!segment.contains('/'));
                    prop_assert_eq!(decode_stream_segment(&segment).unwrap(), id);
                }
            }
        }

        #[test]
        fn segment_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = decode_stream_segment(&text);
        }
    }
}
