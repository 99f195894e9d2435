//! The file store over `std::fs`: the conformance suite, reopening, torn tails, corrupted
//! logs, the lock, and failed writes (a port that fails on purpose over the real files).

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

use super::format::{self, Recovery};
use super::*;
use crate::event::{EventId, EventType};
use crate::store::conformance::{self, Payloads};
use crate::test_util::{block_on, sid};

/// A fresh, empty directory under the system's temp dir, removed on drop.
struct TempDir(String);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join(format!("tidelog-file-{}-{n}-{name}", std::process::id()))
            .to_string_lossy()
            .into_owned();
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
    fn log(&self) -> String {
        format!("{}/{LOG_FILE}", self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &TempDir) -> Result<FileStore<StdFileSystem>> {
    FileStore::open(StdFileSystem, &dir.0, Fsync::EachAppend)
}

fn batch(tags: &[u32]) -> Vec<NewEvent<String>> {
    tags.iter()
        .map(|t| {
            let mut e =
                NewEvent::new(EventType::new(format!("T{t}")).unwrap(), format!("{{\"n\":{t}}}"));
            if t % 2 == 0 {
                e.meta = Some(format!("\"meta {t}\""));
            }
            e
        })
        .collect()
}

fn append(store: &FileStore<StdFileSystem>, stream: &str, tags: &[u32]) -> AppendResult {
    store.append_now(&sid(stream), ExpectedVersion::Any, None, batch(tags), 0).unwrap()
}

fn everything(store: &FileStore<StdFileSystem>) -> Vec<Event<String>> {
    block_on(store.read_all(Position(0), usize::MAX)).unwrap()
}

fn storage_name(e: &Error) -> &str {
    match e {
        Error::Storage { name, .. } => name,
        _ => "",
    }
}

#[test]
fn crc32_is_the_zlib_one() {
    assert_eq!(format::crc32(b""), 0);
    assert_eq!(format::crc32(b"123456789"), 0xCBF4_3926);
    let long: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    // Any split point: the 8-byte loop and the tail agree with a byte-at-a-time CRC.
    let bytewise = |bytes: &[u8]| {
        let mut c = u32::MAX;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    };
    for len in [1, 7, 8, 9, 15, 16, 17, 999, 1000] {
        assert_eq!(format::crc32(&long[..len]), bytewise(&long[..len]), "{len} bytes");
    }
}

#[test]
fn file_store_passes_the_conformance_suite() {
    let dirs = std::cell::RefCell::new(Vec::new());
    let payloads = Payloads::<String> { make: |n| n.to_string(), tag: |p| p.parse().ok() };
    let results = block_on(conformance::run_all(
        || {
            let dir = TempDir::new("conformance");
            let store = open(&dir).unwrap();
            dirs.borrow_mut().push(dir);
            async move { store }
        },
        &payloads,
    ));
    assert_eq!(results.len(), 12);
    let failures: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_reopened_store_has_every_event_with_every_field() {
    let dir = TempDir::new("reopen");
    let store = open(&dir).unwrap();
    append(&store, "cart-1", &[1, 2, 3]);
    let retry = batch(&[9]).into_iter().map(|e| e.with_id(EventId::new("fixed-id").unwrap()));
    let original = store.append_now(
        &sid("cart-2"),
        ExpectedVersion::NoStream,
        None,
        retry.clone().collect(),
        0,
    );
    append(&store, "cart-1", &[4]);
    let before = everything(&store);
    store.close();

    let store = open(&dir).unwrap();
    assert_eq!(store.recovery(), None);
    assert_eq!(everything(&store), before, "every field survives a reopen");
    assert_eq!(block_on(store.version(&sid("cart-1"))).unwrap(), Version(4));
    let again =
        store.append_now(&sid("cart-2"), ExpectedVersion::NoStream, None, retry.collect(), 0);
    assert_eq!(again, original, "an idempotent retry after a reopen returns the original");
    let conflict =
        store.append_now(&sid("cart-1"), ExpectedVersion::Exact(Version(3)), None, batch(&[5]), 0);
    assert!(matches!(conflict, Err(Error::VersionConflict { .. })), "{conflict:?}");
    let next = append(&store, "cart-2", &[6]);
    assert_eq!((next.first_version, next.first_position), (Version(2), Position(6)));
    let ids: Vec<_> = everything(&store).into_iter().map(|e| e.id).collect();
    assert!(ids[5] > ids[4], "new ids sort after the stored ones");
}

#[test]
fn a_torn_tail_is_cut_and_reported_at_every_length() {
    let dir = TempDir::new("torn");
    let store = open(&dir).unwrap();
    append(&store, "a", &[1, 2]);
    append(&store, "b", &[3]);
    let start = std::fs::metadata(dir.log()).unwrap().len();
    append(&store, "a", &[4, 5, 6]);
    store.close();
    let full = std::fs::read(dir.log()).unwrap();
    let end = full.len() as u64;
    for len in start + 1..end {
        std::fs::write(dir.log(), &full[..len as usize]).unwrap();
        let store = open(&dir).unwrap();
        let events = if len - start >= format::HEADER { Some(3) } else { None };
        assert_eq!(
            store.recovery(),
            Some(&Recovery { offset: start, bytes: len - start, events }),
            "cut at {len}"
        );
        let log = everything(&store);
        assert_eq!(log.len(), 3, "the two whole appends, never part of the third (cut at {len})");
        assert_eq!(
            std::fs::metadata(dir.log()).unwrap().len(),
            start,
            "the tail is gone from disk"
        );
        let next = append(&store, "a", &[7]);
        assert_eq!(next.first_position, Position(4));
        store.close();
        let store = open(&dir).unwrap();
        assert_eq!((store.recovery(), everything(&store).len()), (None, 4));
        store.close();
    }
}

#[test]
fn a_zero_filled_tail_and_a_torn_new_file_are_cut() {
    let dir = TempDir::new("zeros");
    let store = open(&dir).unwrap();
    append(&store, "a", &[1]);
    store.close();
    let size = std::fs::metadata(dir.log()).unwrap().len();
    let mut bytes = std::fs::read(dir.log()).unwrap();
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(dir.log(), &bytes).unwrap();
    let store = open(&dir).unwrap();
    assert_eq!(store.recovery(), Some(&Recovery { offset: size, bytes: 4096, events: None }));
    assert_eq!(everything(&store).len(), 1);
    store.close();

    std::fs::write(dir.log(), b"TIDE").unwrap();
    let store = open(&dir).unwrap();
    assert_eq!(store.recovery(), Some(&Recovery { offset: 0, bytes: 4, events: None }));
    append(&store, "a", &[1]);
    store.close();
    assert_eq!(everything(&open(&dir).unwrap()).len(), 1);
}

#[test]
fn a_corrupted_middle_is_a_storage_error_and_opens_nothing() {
    let dir = TempDir::new("corrupt");
    let store = open(&dir).unwrap();
    append(&store, "a", &[1, 2]);
    append(&store, "a", &[3]);
    store.close();
    let good = std::fs::read(dir.log()).unwrap();
    let first_frame = format::MAGIC.len();
    // A byte of the first frame's body, of its header, and of the magic.
    for (at, what) in [
        (first_frame + format::HEADER as usize + 5, "fails its checksum"),
        (first_frame + 1, "frame header at offset 8 fails its checksum"),
        (2, "not a tidelog log"),
    ] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        std::fs::write(dir.log(), &bad).unwrap();
        let e = open(&dir).err().expect("a damaged log does not open");
        assert_eq!(storage_name(&e), "Corrupted", "{e}");
        assert!(e.to_string().contains(what), "{e}");
        assert!(std::fs::read(dir.log()).unwrap() == bad, "nothing is cut from a damaged log");
    }
    std::fs::write(dir.log(), &good).unwrap();
    assert_eq!(
        everything(&open(&dir).unwrap()).len(),
        3,
        "the lock was released by the failed opens"
    );
}

#[test]
fn frames_whose_events_do_not_follow_the_log_are_corruption() {
    let dir = TempDir::new("misplaced");
    let store = open(&dir).unwrap();
    append(&store, "a", &[1]);
    let stored = everything(&store);
    store.close();
    let good = std::fs::read(dir.log()).unwrap();
    let again = |event: Event<String>| {
        let mut bytes = good.clone();
        bytes.extend(format::encode_frame(&event.stream.clone(), &[event]).unwrap());
        std::fs::write(dir.log(), bytes).unwrap();
        open(&dir).err().map(|e| e.to_string()).unwrap_or_default()
    };
    let first = stored[0].clone();
    let replayed = again(Event { id: EventId::new("other").unwrap(), ..first.clone() });
    assert!(replayed.contains("expected position 2 (version 2 of a)"), "{replayed}");
    let twice = again(Event { position: Position(2), version: Version(2), ..first.clone() });
    assert!(twice.contains("is stored twice (position 2)"), "{twice}");
    let elsewhere = again(Event { position: Position(2), stream: sid("b"), ..first });
    assert!(
        elsewhere.contains("is stored twice (position 2)"),
        "an id of another stream: {elsewhere}"
    );
    std::fs::write(dir.log(), &good).unwrap();
    assert_eq!(everything(&open(&dir).unwrap()).len(), 1);
}

#[test]
fn a_second_opener_gets_a_locked_error_and_a_stale_lock_is_taken() {
    let dir = TempDir::new("lock");
    let first = open(&dir).unwrap();
    let e = open(&dir).err().expect("the second open fails");
    assert_eq!(storage_name(&e), "Locked", "{e}");
    assert!(e.to_string().contains(&format!("held by process {}", std::process::id())), "{e}");
    assert!(e.to_string().contains("already open"), "{e}");
    first.close();
    let second = open(&dir).unwrap();
    second.close();

    // A process that exited without closing: its lock is stale.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    std::fs::write(format!("{}/{LOCK_FILE}", dir.0), gone.to_string()).unwrap();
    let store = open(&dir).unwrap();
    let lock = std::fs::read_to_string(format!("{}/{LOCK_FILE}", dir.0)).unwrap();
    assert_eq!(lock, std::process::id().to_string());
    store.close();
    assert!(std::fs::metadata(format!("{}/{LOCK_FILE}", dir.0)).is_err(), "close removes the lock");
}

#[test]
fn delete_refuses_events_and_locked_stores_and_removes_the_directory() {
    let dir = TempDir::new("delete");
    let delete = |force| FileStore::delete(StdFileSystem, &dir.0, force);
    // No store there: nothing to do, and nothing is created.
    delete(false).unwrap();
    assert!(!std::path::Path::new(&dir.0).exists(), "delete created nothing");

    let store = open(&dir).unwrap();
    append(&store, "cart-1", &[1, 2]);
    append(&store, "cart-2", &[3]);
    // Open here: the lock refuses, force or not, and nothing is deleted.
    for force in [false, true] {
        let e = delete(force).unwrap_err();
        assert_eq!(storage_name(&e), "Locked", "{e}");
    }
    store.close();
    // Events: refused without force (none of them is on a server), nothing deleted.
    assert_eq!(delete(false).unwrap_err(), Error::UnsyncedEvents { pending_count: 3 });
    assert!(!std::path::Path::new(&format!("{}/{LOCK_FILE}", dir.0)).exists(), "lock released");
    let store = open(&dir).unwrap();
    assert_eq!(everything(&store).len(), 3, "the refusal deleted nothing");
    store.close();
    // With force: the directory is gone, and a new store there starts empty.
    delete(true).unwrap();
    assert!(!std::path::Path::new(&dir.0).exists(), "the directory is removed");
    let store = open(&dir).unwrap();
    assert!(everything(&store).is_empty());
    store.close();
    // An empty store needs no force; a file that is not the store's keeps the directory.
    std::fs::write(format!("{}/notes.txt", dir.0), "mine").unwrap();
    delete(false).unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["notes.txt"]);
}

/// `std::fs` with failures switched on at will: an append that writes half its bytes and
/// fails, a failing fsync, a failing truncate.
#[derive(Default)]
struct Failing {
    rename: Cell<bool>,
    append: Cell<bool>,
    sync: Cell<bool>,
    truncate: Cell<bool>,
}

impl FileSystem for &Failing {
    type File = <StdFileSystem as FileSystem>::File;
    fn create_dir_all(&self, path: &str) -> Result<()> {
        StdFileSystem.create_dir_all(path)
    }
    fn create_new(&self, path: &str, contents: &[u8]) -> Result<bool> {
        StdFileSystem.create_new(path, contents)
    }
    fn read_small(&self, path: &str) -> Result<Option<Vec<u8>>> {
        StdFileSystem.read_small(path)
    }
    fn remove(&self, path: &str) -> Result<()> {
        StdFileSystem.remove(path)
    }
    fn exists(&self, path: &str) -> Result<bool> {
        StdFileSystem.exists(path)
    }
    fn remove_dir(&self, path: &str) -> Result<()> {
        StdFileSystem.remove_dir(path)
    }
    fn open_append(&self, path: &str) -> Result<Self::File> {
        StdFileSystem.open_append(path)
    }
    fn size(&self, file: &Self::File) -> Result<u64> {
        StdFileSystem.size(file)
    }
    fn read_at(&self, file: &Self::File, offset: u64, buf: &mut [u8]) -> Result<usize> {
        StdFileSystem.read_at(file, offset, buf)
    }
    fn append(&self, file: &Self::File, bytes: &[u8]) -> Result<()> {
        if self.append.get() {
            StdFileSystem.append(file, &bytes[..bytes.len() / 2])?;
            return Err(Error::QuotaExceeded { message: "no space left on device".into() });
        }
        StdFileSystem.append(file, bytes)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        if self.rename.get() {
            return Err(Error::storage("EXDEV", "rename failed"));
        }
        StdFileSystem.rename(from, to)
    }
    fn truncate(&self, file: &Self::File, len: u64) -> Result<()> {
        if self.truncate.get() {
            return Err(Error::storage("EIO", "truncate failed"));
        }
        StdFileSystem.truncate(file, len)
    }
    fn sync(&self, file: &Self::File) -> Result<()> {
        if self.sync.get() {
            return Err(Error::storage("EIO", "fsync failed"));
        }
        StdFileSystem.sync(file)
    }
    fn sync_dir(&self, path: &str) -> Result<()> {
        StdFileSystem.sync_dir(path)
    }
    fn close(&self, file: Self::File) {
        StdFileSystem.close(file)
    }
    fn pid(&self) -> u32 {
        StdFileSystem.pid()
    }
    fn alive(&self, pid: u32) -> bool {
        StdFileSystem.alive(pid)
    }
}

#[test]
fn a_failed_write_is_taken_back_and_a_failed_fsync_closes_the_store() {
    let dir = TempDir::new("failing");
    let faults = Failing::default();
    let store = FileStore::open(&faults, &dir.0, Fsync::EachAppend).unwrap();
    store.append_now(&sid("a"), ExpectedVersion::Any, None, batch(&[1]), 10).unwrap();
    let size = std::fs::metadata(dir.log()).unwrap().len();

    faults.append.set(true);
    let full = store.append_now(&sid("a"), ExpectedVersion::Any, None, batch(&[2, 3]), 10);
    assert!(matches!(full, Err(Error::QuotaExceeded { .. })), "{full:?}");
    assert_eq!(std::fs::metadata(dir.log()).unwrap().len(), size, "the half frame is cut");
    assert_eq!(
        block_on(store.version(&sid("a"))).unwrap(),
        Version(1),
        "nothing of it is readable"
    );
    assert_eq!(store.metrics().events_written, 1);
    faults.append.set(false);
    let next = store
        .append_now(&sid("a"), ExpectedVersion::Exact(Version(1)), None, batch(&[2]), 10)
        .unwrap();
    assert_eq!(next.first_position, Position(2), "the next append takes the freed position");

    faults.append.set(true);
    faults.truncate.set(true);
    let stuck =
        store.append_now(&sid("a"), ExpectedVersion::Any, None, batch(&[3]), 0).unwrap_err();
    assert!(stuck.to_string().contains("closed itself"), "{stuck}");
    assert!(store.is_closed());
    faults.append.set(false);
    faults.truncate.set(false);
    let reopened = FileStore::open(&faults, &dir.0, Fsync::EachAppend).unwrap();
    assert!(reopened.recovery().is_some(), "the half frame left on disk is the torn tail");
    assert_eq!(block_on(reopened.version(&sid("a"))).unwrap(), Version(2));

    faults.sync.set(true);
    let e = reopened.append_now(&sid("a"), ExpectedVersion::Any, None, batch(&[3]), 0).unwrap_err();
    assert!(
        e.to_string().contains("fsync failed") && e.to_string().contains("closed itself"),
        "{e}"
    );
    assert!(matches!(
        reopened.append_now(&sid("a"), ExpectedVersion::Any, None, batch(&[4]), 0),
        Err(Error::Closed)
    ));
    faults.sync.set(false);
    let last = FileStore::open(&faults, &dir.0, Fsync::Never).unwrap();
    assert_eq!(
        block_on(last.version(&sid("a"))).unwrap(),
        Version(3),
        "the unsynced frame was written: the disk decides"
    );
}

#[test]
fn tags_survive_a_reopen_and_are_queried_from_the_index() {
    use crate::event::Tag;
    use crate::query::{AppendCondition, Query, QueryItem, QueryOptions};
    let dir = TempDir::new("tags");
    let store = open(&dir).unwrap();
    append(&store, "plain", &[1]);
    let tags = vec![Tag::new("username:ada").unwrap(), Tag::new("account:1").unwrap()];
    let claim = batch(&[2]).into_iter().map(|e| e.with_tags(tags.clone())).collect();
    store.append_now(&sid("user-1"), ExpectedVersion::Any, None, claim, 0).unwrap();
    store.close();
    let reopened = open(&dir).unwrap();
    let events = everything(&reopened);
    assert!(events[0].tags.is_empty(), "an event without tags reads back without");
    assert_eq!(events[1].tags, tags);
    let ada = Query::Items(vec![QueryItem::of_tags(vec![tags[0].clone()])]);
    let found = block_on(reopened.query(&ada, QueryOptions::default())).unwrap();
    assert_eq!(found.iter().map(|e| e.position.0).collect::<Vec<_>>(), [2]);
    let condition = AppendCondition { fail_if_events_match: ada, after: None };
    let refused =
        reopened.append_now(&sid("user-2"), ExpectedVersion::Any, Some(&condition), batch(&[3]), 0);
    assert!(
        matches!(refused, Err(Error::AppendCondition { position: Position(2), .. })),
        "{refused:?}"
    );
    reopened.close();
    assert_eq!(
        everything(&open(&dir).unwrap()).len(),
        2,
        "a refused append wrote nothing to the log"
    );
}

// ---- retention -----------------------------------------------------------------------------

fn keep(n: u64) -> crate::store::Retention {
    crate::store::Retention { events: Some(n), ms: None, keep_pending: false }
}

fn file_len(dir: &TempDir) -> u64 {
    std::fs::metadata(dir.log()).unwrap().len()
}

fn shape(store: &FileStore<StdFileSystem>) -> Vec<(String, u64, u64, String)> {
    block_on(store.read_all(block_on(store.floor()).unwrap(), usize::MAX))
        .unwrap()
        .into_iter()
        .map(|e| (e.stream.to_string(), e.version.0, e.position.0, e.data))
        .collect()
}

fn heads(store: &FileStore<StdFileSystem>) -> Vec<(String, u64, u64)> {
    block_on(store.streams())
        .unwrap()
        .into_iter()
        .map(|s| (s.stream.to_string(), s.version.0, s.last_position.0))
        .collect()
}

#[test]
fn compaction_shrinks_the_file_and_reopens_with_the_same_floor_and_versions() {
    let dir = TempDir::new("compact");
    let store = open(&dir).unwrap();
    for i in 0..30u32 {
        append(&store, if i % 3 == 0 { "a" } else { "b" }, &[i, i + 100]);
    }
    append(&store, "gone", &[7]);
    for i in 0..5u32 {
        append(&store, "b", &[i + 200]);
    }
    let before = file_len(&dir);
    let done = block_on(store.compact(&keep(4))).unwrap();
    assert_eq!(done, Compacted { dropped: 62, from: Position(63) });
    let after = file_len(&dir);
    assert!(after * 5 < before, "the file shrank: {before} -> {after} bytes");
    assert_eq!(store.file_size(), after);
    let held = shape(&store);
    let streams = heads(&store);
    assert_eq!(held.len(), 4);
    assert_eq!(streams.len(), 3, "a stream whose events all went is still listed: {streams:?}");
    assert!(streams.contains(&("gone".to_string(), 1, 61)), "{streams:?}");
    // Appends go on after the rewrite, with the next position and version.
    let r = store
        .append_now(&sid("gone"), ExpectedVersion::Exact(Version(1)), None, batch(&[8]), 0)
        .unwrap();
    assert_eq!((r.first_version, r.first_position), (Version(2), Position(67)));
    store.close();

    let store = open(&dir).unwrap();
    assert_eq!(store.recovery(), None);
    assert_eq!(block_on(store.floor()).unwrap(), Position(63));
    let mut want = held.clone();
    want.push(("gone".into(), 2, 67, "{\"n\":8}".into()));
    assert_eq!(shape(&store), want);
    assert_eq!(block_on(store.version(&sid("a"))).unwrap(), Version(20));
    assert_eq!(block_on(store.version(&sid("b"))).unwrap(), Version(45));
    let gone = block_on(store.read(&sid("gone"), crate::store::ReadOptions::default())).unwrap();
    assert_eq!(gone.iter().map(|e| e.version.0).collect::<Vec<_>>(), [2]);
    let below = block_on(store.read_all(Position(1), 10));
    assert!(matches!(below, Err(Error::NotRetained { from: Position(63), .. })), "{below:?}");
    // Compacting again rewrites from the new floor; a reopen agrees.
    let again = block_on(store.compact(&keep(2))).unwrap();
    assert_eq!(again, Compacted { dropped: 3, from: Position(66) });
    let held = shape(&store);
    store.close();
    let store = open(&dir).unwrap();
    assert_eq!(shape(&store), held);
    assert_eq!(block_on(store.version(&sid("gone"))).unwrap(), Version(2));
}

#[test]
fn a_compaction_cut_short_reopens_sane() {
    let dir = TempDir::new("compact-crash");
    let store = open(&dir).unwrap();
    for i in 0..10u32 {
        append(&store, "s", &[i]);
    }
    let all = shape(&store);
    store.close();
    // A crash while the new log was written: it is left behind, the log is whole.
    let stray = format!("{}/{COMPACT_FILE}", dir.0);
    std::fs::write(&stray, b"TIDELOG1\x10\x00 half a frame").unwrap();
    let store = open(&dir).unwrap();
    assert!(!std::path::Path::new(&stray).exists(), "the stray new log is removed");
    assert_eq!(shape(&store), all);
    assert_eq!(block_on(store.floor()).unwrap(), Position(1));
    block_on(store.compact(&keep(3))).unwrap();
    let held = shape(&store);
    store.close();
    // A crash after the rename, before anything else: the new log stands.
    std::fs::write(&stray, b"junk").unwrap();
    let store = open(&dir).unwrap();
    assert_eq!(shape(&store), held);
    assert_eq!(block_on(store.floor()).unwrap(), Position(8));
}

#[test]
fn a_failed_rename_keeps_the_old_log() {
    let dir = TempDir::new("compact-rename");
    let failing = Failing::default();
    let store = FileStore::open(&failing, &dir.0, Fsync::EachAppend).unwrap();
    for i in 0..6u32 {
        store.append_now(&sid("s"), ExpectedVersion::Any, None, batch(&[i]), 0).unwrap();
    }
    let before = file_len(&dir);
    failing.rename.set(true);
    let e = block_on(store.compact(&keep(2))).unwrap_err();
    assert_eq!(storage_name(&e), "EXDEV");
    assert_eq!(file_len(&dir), before, "the old log stays");
    assert!(!std::path::Path::new(&format!("{}/{COMPACT_FILE}", dir.0)).exists());
    // The store goes on (reads refuse below the index's floor), and a later compaction
    // rewrites the file.
    store.append_now(&sid("s"), ExpectedVersion::Any, None, batch(&[9]), 0).unwrap();
    failing.rename.set(false);
    let done = block_on(store.compact(&keep(2))).unwrap();
    assert_eq!(done.from, Position(6));
    assert!(file_len(&dir) < before);
    store.close();
    let store = open(&dir).unwrap();
    assert_eq!(block_on(store.floor()).unwrap(), Position(6));
    assert_eq!(block_on(store.version(&sid("s"))).unwrap(), Version(7));
}
