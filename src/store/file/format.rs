//! The log file's format: a magic header, then one checksummed frame per append.
//!
//! ```text
//! file   = "TIDELOG1" frame*
//! frame  = body_len:u32 count:u32 header_crc:u32 body_crc:u32 body     (little-endian)
//!          header_crc = CRC-32 of the 8 bytes of body_len and count
//!          body_crc   = CRC-32 of body
//! body   = stream_len:u16 stream event{count}
//!        | 0:u16 floor:u64 n:u32 (stream_len:u16 stream dropped:u64 last:u64){n}
//!          (the floor frame, count 0: written first by a compaction, see [`Floor`];
//!          a stream id is never empty, so no events frame starts with 0)
//! event  = position:u64 version:u64 recorded_at:u64 schema:u32
//!          id_len:u16 id type_len:u16 type [tag_count:u16 (tag_len:u16 tag){tag_count}]
//!          data_len:u32 data meta_len:u32 meta
//!          (meta_len = 0xFFFFFFFF: no meta; data and meta are the caller's JSON text;
//!          the tags are there only when the top bit of `type_len` is set, which a type's
//!          length (at most 256) never uses: logs written before tags existed read
//!          unchanged)
//! ```
//!
//! One frame holds a whole batch, so a batch is on disk entirely or not at all: a frame
//! that fails its checksum is never half-read. [`scan`] reads a log back and tells a torn
//! tail (the write a crash interrupted: the last frame, incomplete or failing its
//! checksum, or zeros to the end of the file) from a corrupted middle (a bad frame with
//! data after it), which is an error.

use crate::error::{Error, Result};
use crate::event::{Event, EventId, EventType, Invalid, Position, StreamId, Tag, Version};

/// The first bytes of every log file (the format's name and version).
pub const MAGIC: &[u8; 8] = b"TIDELOG1";

/// Bytes of a frame header.
pub const HEADER: u64 = 16;

/// `meta_len` of an event without meta.
const NO_META: u32 = u32::MAX;

/// The bit of `type_len` on disk that says tags follow the event's type.
const HAS_TAGS: u16 = 1 << 15;

/// What opening a log cut off its end: a torn tail, the append a crash interrupted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// File offset where the cut frame started (the file's new length).
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
    /// Events the cut frame held, when its header was intact enough to tell.
    pub events: Option<u32>,
}

/// What a compacted log starts with: retention's floor, and for each stream with dropped
/// events how many (its held events start at version `dropped + 1`) and where its last
/// dropped event was (the stream's last position when all of it was dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Floor {
    /// The lowest position held: the first events frame starts there.
    pub floor: Position,
    /// `(stream, dropped versions, position of its last dropped event)`.
    pub streams: Vec<(StreamId, Version, Position)>,
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// The events of one append (or of one stream's run of a compacted log).
    Events(Vec<Event<String>>),
    /// The floor frame of a compacted log.
    Floor(Floor),
}

/// Encodes the floor frame of a compacted log.
pub fn encode_floor(floor: &Floor) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(14 + floor.streams.len() * 40);
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&floor.floor.0.to_le_bytes());
    let n = u32::try_from(floor.streams.len())
        .map_err(|_| Error::invalid("streams", "too many streams for one log"))?;
    body.extend_from_slice(&n.to_le_bytes());
    for (stream, dropped, last) in &floor.streams {
        put_bytes16(&mut body, stream.as_str().as_bytes());
        body.extend_from_slice(&dropped.0.to_le_bytes());
        body.extend_from_slice(&last.0.to_le_bytes());
    }
    frame_of(&body, 0)
}

/// Header and checksums around `body`.
fn frame_of(body: &[u8], count: u32) -> Result<Vec<u8>> {
    let too_big = || Error::invalid("events", "one append must encode to less than 4 GiB");
    let body_len = u32::try_from(body.len()).map_err(|_| too_big())?;
    let mut frame = Vec::with_capacity(HEADER as usize + body.len());
    frame.extend_from_slice(&body_len.to_le_bytes());
    frame.extend_from_slice(&count.to_le_bytes());
    let header_crc = crc32(&frame[..8]);
    frame.extend_from_slice(&header_crc.to_le_bytes());
    frame.extend_from_slice(&crc32(body).to_le_bytes());
    frame.extend_from_slice(body);
    Ok(frame)
}

/// CRC-32 (IEEE 802.3, the zlib one) of `bytes`, eight bytes at a time ("slicing by 8":
/// the log is checksummed whole on every open, so this is most of an open's time).
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLES: [[u32; 256]; 8] = {
        let mut t = [[0u32; 256]; 8];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[0][i] = c;
            i += 1;
        }
        let mut i = 0;
        while i < 256 {
            let mut s = 1;
            while s < 8 {
                let prev = t[s - 1][i];
                t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
                s += 1;
            }
            i += 1;
        }
        t
    };
    let mut c = u32::MAX;
    let mut chunks = bytes.chunks_exact(8);
    for b in &mut chunks {
        let low = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        c = TABLES[7][(low & 0xFF) as usize]
            ^ TABLES[6][((low >> 8) & 0xFF) as usize]
            ^ TABLES[5][((low >> 16) & 0xFF) as usize]
            ^ TABLES[4][(low >> 24) as usize]
            ^ TABLES[3][usize::from(b[4])]
            ^ TABLES[2][usize::from(b[5])]
            ^ TABLES[1][usize::from(b[6])]
            ^ TABLES[0][usize::from(b[7])];
    }
    for &b in chunks.remainder() {
        c = TABLES[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn corrupted(message: String) -> Error {
    Error::storage("Corrupted", message)
}

/// Encodes one append (events of one stream, in position order) as a frame.
pub fn encode_frame(stream: &StreamId, events: &[Event<String>]) -> Result<Vec<u8>> {
    let too_big = || Error::invalid("events", "one append must encode to less than 4 GiB");
    let mut body = Vec::with_capacity(
        2 + stream.as_str().len()
            + events.iter().map(|e| 48 + e.id.as_str().len() + e.data.len()).sum::<usize>(),
    );
    put_bytes16(&mut body, stream.as_str().as_bytes());
    for e in events {
        body.extend_from_slice(&e.position.0.to_le_bytes());
        body.extend_from_slice(&e.version.0.to_le_bytes());
        body.extend_from_slice(&e.recorded_at.to_le_bytes());
        body.extend_from_slice(&e.schema.to_le_bytes());
        put_bytes16(&mut body, e.id.as_str().as_bytes());
        let flag = if e.tags.is_empty() { 0 } else { HAS_TAGS };
        // A type is at most 256 bytes: its length never reaches the flag bit.
        body.extend_from_slice(&(e.event_type.as_str().len() as u16 | flag).to_le_bytes());
        body.extend_from_slice(e.event_type.as_str().as_bytes());
        if !e.tags.is_empty() {
            // At most MAX_TAGS tags of at most 256 bytes each: u16 lengths fit.
            body.extend_from_slice(&(e.tags.len() as u16).to_le_bytes());
            for tag in &e.tags {
                put_bytes16(&mut body, tag.as_str().as_bytes());
            }
        }
        let data_len = u32::try_from(e.data.len()).ok().filter(|&n| n != NO_META);
        body.extend_from_slice(&data_len.ok_or_else(too_big)?.to_le_bytes());
        body.extend_from_slice(e.data.as_bytes());
        match &e.meta {
            None => body.extend_from_slice(&NO_META.to_le_bytes()),
            Some(meta) => {
                let meta_len = u32::try_from(meta.len()).ok().filter(|&n| n != NO_META);
                body.extend_from_slice(&meta_len.ok_or_else(too_big)?.to_le_bytes());
                body.extend_from_slice(meta.as_bytes());
            }
        }
    }
    let count = u32::try_from(events.len()).map_err(|_| too_big())?;
    frame_of(&body, count)
}

/// Ids, stream and type names are at most 256 bytes (see `crate::event`), so a u16
/// length always fits.
fn put_bytes16(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A frame header as read from the file.
#[derive(Clone, Copy, Debug)]
pub struct FrameHeader {
    /// Bytes of the body.
    pub body_len: u32,
    /// Events in the body.
    pub count: u32,
    /// Whether the header checksum holds.
    pub intact: bool,
    /// The body's checksum.
    pub body_crc: u32,
}

/// Reads a frame header from 16 bytes.
pub fn read_header(bytes: &[u8; HEADER as usize]) -> FrameHeader {
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    FrameHeader {
        body_len: word(0),
        count: word(4),
        intact: crc32(&bytes[..8]) == word(8),
        body_crc: word(12),
    }
}

/// A cursor over a frame body; every read is bounds-checked.
struct Body<'a> {
    bytes: &'a [u8],
    at: usize,
    offset: u64,
}

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(corrupted(format!(
                "the frame at offset {} ends inside an event (its checksum holds: not a crash, a bug or an outside write)",
                self.offset
            )));
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn text(&mut self, n: usize) -> Result<String> {
        let offset = self.offset;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| {
            corrupted(format!("the frame at offset {offset} holds text that is not UTF-8"))
        })
    }
}

/// Decodes a frame body whose checksum held, found at file `offset`.
pub fn decode_body(body: &[u8], count: u32, offset: u64) -> Result<Frame> {
    let mut b = Body { bytes: body, at: 0, offset };
    let invalid = |e: Invalid| corrupted(format!("the frame at offset {offset} holds {e}"));
    let n = usize::from(b.u16()?);
    if n == 0 && count == 0 {
        let floor = Position(b.u64()?);
        let mut streams = Vec::new();
        for _ in 0..b.u32()? {
            let n = usize::from(b.u16()?);
            let stream = StreamId::from_utf8_bytes(b.take(n)?).map_err(invalid)?;
            streams.push((stream, Version(b.u64()?), Position(b.u64()?)));
        }
        if b.at != body.len() {
            return Err(corrupted(format!(
                "the floor frame at offset {offset} has bytes after it"
            )));
        }
        return Ok(Frame::Floor(Floor { floor, streams }));
    }
    let stream = StreamId::from_utf8_bytes(b.take(n)?).map_err(invalid)?;
    let mut events = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let position = Position(b.u64()?);
        let version = Version(b.u64()?);
        let recorded_at = b.u64()?;
        let schema = b.u32()?;
        let n = usize::from(b.u16()?);
        let id = EventId::from_utf8_bytes(b.take(n)?).map_err(invalid)?;
        let type_len = b.u16()?;
        let n = usize::from(type_len & !HAS_TAGS);
        let event_type = EventType::from_utf8_bytes(b.take(n)?).map_err(invalid)?;
        let mut tags = Vec::new();
        if type_len & HAS_TAGS != 0 {
            for _ in 0..b.u16()? {
                let n = usize::from(b.u16()?);
                tags.push(Tag::from_utf8_bytes(b.take(n)?).map_err(invalid)?);
            }
        }
        let n = b.u32()? as usize;
        let data = b.text(n)?;
        let meta = match b.u32()? {
            NO_META => None,
            n => Some(b.text(n as usize)?),
        };
        events.push(Event {
            id,
            stream: stream.clone(),
            version,
            position,
            event_type,
            tags,
            data,
            meta,
            recorded_at,
            schema,
        });
    }
    if b.at != body.len() {
        return Err(corrupted(format!(
            "the frame at offset {offset} has {} bytes after its {count} events",
            body.len() - b.at
        )));
    }
    Ok(Frame::Events(events))
}

/// Reads a log file from its start through `read_at(offset, buf) -> bytes read`, in
/// chunks, handing every frame (the events of an append, or a compacted log's floor) to
/// `restore` in file order. Returns the torn tail it
/// found (the caller cuts it), or an error for a file that is not a log or is corrupted
/// before its last frame. `size` is the file's length.
pub fn scan(
    size: u64,
    read_at: &mut dyn FnMut(u64, &mut [u8]) -> Result<usize>,
    restore: &mut dyn FnMut(Frame) -> Result<()>,
) -> Result<Option<Recovery>> {
    let mut reader = Window { buf: Vec::new(), start: 0, size, read_at };
    let magic_len = MAGIC.len() as u64;
    if size < magic_len {
        // A crash right after the file was created: nothing was ever appended.
        let head = reader.get(0, size as usize)?;
        if MAGIC.starts_with(head) || head.iter().all(|&b| b == 0) {
            return Ok(Some(Recovery { offset: 0, bytes: size, events: None }).filter(|_| size > 0));
        }
        return Err(not_a_log());
    }
    if reader.get(0, MAGIC.len())? != MAGIC {
        return Err(not_a_log());
    }
    let mut offset = magic_len;
    while offset < size {
        let torn = |events| Some(Recovery { offset, bytes: size - offset, events });
        if size - offset < HEADER {
            return Ok(torn(None));
        }
        let mut head = [0u8; HEADER as usize];
        head.copy_from_slice(reader.get(offset, HEADER as usize)?);
        let header = read_header(&head);
        if !header.intact {
            if reader.zeros_from(offset)? {
                return Ok(torn(None));
            }
            return Err(corrupted(format!(
                "the frame header at offset {offset} fails its checksum, and {} bytes follow it: the log is damaged before its end",
                size - offset - HEADER
            )));
        }
        let end = offset + HEADER + u64::from(header.body_len);
        if end > size {
            return Ok(torn(Some(header.count)));
        }
        let body = reader.get(offset + HEADER, header.body_len as usize)?;
        if crc32(body) != header.body_crc {
            if end == size {
                return Ok(torn(Some(header.count)));
            }
            return Err(corrupted(format!(
                "the frame at offset {offset} ({} events) fails its checksum, and {} bytes follow it: the log is damaged before its end",
                header.count,
                size - end
            )));
        }
        restore(decode_body(body, header.count, offset)?)?;
        offset = end;
    }
    Ok(None)
}

fn not_a_log() -> Error {
    corrupted("the file does not start with \"TIDELOG1\": it is not a tidelog log".into())
}

/// Bytes the scan reads from the file at a time.
const CHUNK: usize = 1 << 20;

/// A window over the file: the bytes from `start`, refilled in chunks.
struct Window<'a> {
    buf: Vec<u8>,
    start: u64,
    size: u64,
    read_at: &'a mut dyn FnMut(u64, &mut [u8]) -> Result<usize>,
}

impl Window<'_> {
    /// The `len` bytes at `offset` (the caller checked they are inside the file).
    fn get(&mut self, offset: u64, len: usize) -> Result<&[u8]> {
        let end = offset + len as u64;
        if offset < self.start || end > self.start + self.buf.len() as u64 {
            let want = (len.max(CHUNK) as u64).min(self.size - offset) as usize;
            self.buf.resize(want, 0);
            let mut filled = 0;
            while filled < want {
                let n = (self.read_at)(offset + filled as u64, &mut self.buf[filled..])?;
                if n == 0 {
                    return Err(Error::storage(
                        "Io",
                        format!("the log file ended at {} while reading it (was it truncated by another process?)", offset + filled as u64),
                    ));
                }
                filled += n;
            }
            self.start = offset;
        }
        let at = (offset - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }

    /// Whether every byte from `offset` to the end of the file is zero (a file system
    /// that grew the file before a crash but never wrote the data).
    fn zeros_from(&mut self, mut offset: u64) -> Result<bool> {
        while offset < self.size {
            let len = ((self.size - offset) as usize).min(CHUNK);
            if self.get(offset, len)?.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            offset += len as u64;
        }
        Ok(true)
    }
}
