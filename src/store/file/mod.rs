//! [`FileStore`]: the event store in a directory, for server runtimes (Node, Deno, Bun)
//! and native programs (feature `file`).
//!
//! A store is a directory with two files:
//! - `log`: the append-only log, one checksummed frame per append (the format is in
//!   [`format`](mod@format)). It is the only copy of the events on disk; an index of the whole log
//!   (a [`MemoryStore`] over the events' JSON text) is rebuilt from it on open, so reads
//!   never touch the disk and the append rules are the memory store's, unchanged.
//! - `lock`: created exclusively on open with the owner's process id, removed on close.
//!   A second opener (another process, or the same one) gets [`Error::Storage`] named
//!   `"Locked"`; a lock whose process is gone is stale and taken over.
//!
//! An append is acknowledged once its frame is written and fsynced ([`Fsync::EachAppend`]:
//! survives power loss; the JS API's `durability: "strict"`, its default) or only written
//! ([`Fsync::Never`]: survives a crash of the process; `"relaxed"`). Opening reads the log back: a torn tail (the write a crash
//! interrupted) is cut and reported ([`FileStore::recovery`]); anything damaged before
//! the end is an error, and nothing is opened. A failed write is taken back (the file is
//! truncated to where the frame started); when even that fails, or an fsync fails, the
//! store closes itself: reopening reads what the disk really holds.
//!
//! **Retention** ([`FileStore::compact_now`]) shrinks the file: the held events are
//! written to `log.compact` (a floor frame first, see [`format::Floor`], then one frame
//! per run of a stream's events), fsynced, and renamed over `log`, under the store's lock.
//! A crash before the rename leaves the old log whole (opening removes the stray
//! `log.compact`); after it, the new one.
//!
//! The disk is reached through the [`FileSystem`] port: `std::fs` natively
//! ([`StdFileSystem`]), `node:fs` in wasm32 (`web::node_fs`).

use std::cell::Cell;

use super::{Compacted, EventStore, MemoryStore, Metrics, ReadOptions, Retention, StreamInfo};
use crate::env::{Environment, SystemEnvironment};
use crate::error::{Error, Result};
use crate::event::{AppendResult, Event, ExpectedVersion, NewEvent, Position, StreamId, Version};
use crate::query::{AppendCondition, Query, QueryOptions};

pub mod format;
#[cfg(not(target_arch = "wasm32"))]
mod native;
// Over std::fs: native only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

pub use format::Recovery;
#[cfg(not(target_arch = "wasm32"))]
pub use native::StdFileSystem;

/// The file calls the file store makes: the port each host implements. Paths are
/// `/`-joined strings. Errors are [`Error::Storage`] named after the host's error code
/// (`"ENOENT"`, `"EACCES"`), or [`Error::QuotaExceeded`] for a full disk.
pub trait FileSystem {
    /// An open file.
    type File;
    /// Creates directory `path` and its missing parents.
    fn create_dir_all(&self, path: &str) -> Result<()>;
    /// Creates file `path` only if it does not exist and writes `contents` to it;
    /// `Ok(false)` when it already exists.
    fn create_new(&self, path: &str, contents: &[u8]) -> Result<bool>;
    /// The contents of a small file; `None` when it does not exist.
    fn read_small(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// Removes file `path` (a missing file is not an error).
    fn remove(&self, path: &str) -> Result<()>;
    /// Whether `path` exists (a file or a directory).
    fn exists(&self, path: &str) -> Result<bool>;
    /// Removes directory `path` if it is empty; one that is missing or holds anything is
    /// left as it is (not an error).
    fn remove_dir(&self, path: &str) -> Result<()>;
    /// Opens `path` for reading and appending, creating it when missing.
    fn open_append(&self, path: &str) -> Result<Self::File>;
    /// The file's length.
    fn size(&self, file: &Self::File) -> Result<u64>;
    /// Reads into `buf` from `offset`; the bytes read (0 at the end of the file).
    fn read_at(&self, file: &Self::File, offset: u64, buf: &mut [u8]) -> Result<usize>;
    /// Writes all of `bytes` at the end of the file.
    fn append(&self, file: &Self::File, bytes: &[u8]) -> Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&self, file: &Self::File, len: u64) -> Result<()>;
    /// Renames file `from` to `to`, replacing `to` atomically.
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Flushes the file's data to the disk (fsync).
    fn sync(&self, file: &Self::File) -> Result<()>;
    /// Flushes directory `path` itself (a new file's entry), where the host can.
    fn sync_dir(&self, path: &str) -> Result<()>;
    /// Closes the file.
    fn close(&self, file: Self::File);
    /// This process's id.
    fn pid(&self) -> u32;
    /// Whether process `pid` runs on this machine.
    fn alive(&self, pid: u32) -> bool;
}

/// File name of the log in a store's directory.
pub const LOG_FILE: &str = "log";
/// File name of a compaction's new log before it replaces [`LOG_FILE`].
pub const COMPACT_FILE: &str = "log.compact";
/// File name of the lock in a store's directory.
pub const LOCK_FILE: &str = "lock";

/// When the file store fsyncs the log (the JS API's `durability` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// After every append, before it is acknowledged: survives power loss.
    EachAppend,
    /// Never: the OS writes the data back when it likes; survives a crash of the process.
    Never,
}

/// An [`EventStore`] in a directory: an append-only log file (see the module docs).
pub struct FileStore<F: FileSystem, E: Environment = SystemEnvironment> {
    fs: F,
    dir: String,
    /// The log file; `None` once closed.
    file: Cell<Option<F::File>>,
    /// The log file's length: where the next frame goes.
    size: Cell<u64>,
    strict: bool,
    index: MemoryStore<String, E>,
    recovery: Option<Recovery>,
    /// The floor the log file starts at (the index's may be ahead after a failed rewrite).
    file_floor: Cell<Position>,
}

impl<F: FileSystem> FileStore<F, SystemEnvironment> {
    /// Opens (or creates) the store in directory `dir`, with the system clock and random
    /// source. See [`FileStore::open_with`].
    pub fn open(fs: F, dir: &str, sync: Fsync) -> Result<Self> {
        Self::open_with(fs, dir, sync, SystemEnvironment)
    }

    /// Deletes the store in `dir`: its log, its lock, and the directory when nothing else
    /// is in it. No store there: nothing to do (nothing is created). Takes the lock
    /// first, so a store another process has open is refused with [`Error::Storage`]
    /// `"Locked"` (as is one this process has open: close it first). Unless `force`, a
    /// log with events is refused with [`Error::UnsyncedEvents`] (a file store does not
    /// sync: no event of it is on a server). A refusal deletes nothing.
    pub fn delete(fs: F, dir: &str, force: bool) -> Result<()> {
        let dir = dir.trim_end_matches('/');
        if !fs.exists(&format!("{dir}/{LOG_FILE}"))? {
            // Not a store (or a lock left alone): nothing of ours to delete.
            return Ok(());
        }
        let lock = format!("{dir}/{LOCK_FILE}");
        take_lock(&fs, &lock)?;
        let fs = if force {
            fs
        } else {
            let store = Self::load(fs, dir.to_string(), Fsync::Never, SystemEnvironment).map_err(
                |(fs, e)| {
                    let _ = fs.remove(&lock);
                    e
                },
            )?;
            let pending_count = store.index.head_position()?.0;
            if let Some(file) = store.file.take() {
                store.fs.close(file);
            }
            if pending_count > 0 {
                let _ = store.fs.remove(&lock);
                return Err(Error::UnsyncedEvents { pending_count });
            }
            store.fs
        };
        fs.remove(&format!("{dir}/{LOG_FILE}"))?;
        fs.remove(&lock)?;
        fs.remove_dir(dir)
    }
}

impl<F: FileSystem, E: Environment> FileStore<F, E> {
    /// Opens (or creates) the store in directory `dir`: takes the lock, reads the log
    /// back, cuts a torn tail (reported by [`FileStore::recovery`]).
    pub fn open_with(fs: F, dir: &str, sync: Fsync, env: E) -> Result<Self> {
        let dir = dir.trim_end_matches('/').to_string();
        let dir = if dir.is_empty() { "/".to_string() } else { dir };
        fs.create_dir_all(&dir)?;
        let lock = format!("{dir}/{LOCK_FILE}");
        take_lock(&fs, &lock)?;
        match Self::load(fs, dir, sync, env) {
            Ok(store) => Ok(store),
            Err((fs, e)) => {
                let _ = fs.remove(&lock);
                Err(e)
            }
        }
    }

    /// Opens and reads the log; on failure hands the port back, to release the lock.
    fn load(fs: F, dir: String, sync: Fsync, env: E) -> Result<Self, (F, Error)> {
        let strict = sync == Fsync::EachAppend;
        let path = format!("{dir}/{LOG_FILE}");
        // A compaction a crash interrupted before its rename: the log is whole.
        if let Err(e) = fs.remove(&format!("{dir}/{COMPACT_FILE}")) {
            return Err((fs, e));
        }
        let file = match fs.open_append(&path) {
            Ok(file) => file,
            Err(e) => return Err((fs, e)),
        };
        let index = MemoryStore::with_environment(env);
        let read = (|| {
            let size = fs.size(&file)?;
            warm_up(size);
            let recovery = format::scan(
                size,
                &mut |offset, buf| fs.read_at(&file, offset, buf),
                &mut |frame| match frame {
                    format::Frame::Events(events) => index.restore(events),
                    format::Frame::Floor(floor) => index.restore_floor(&floor),
                },
            )?;
            let mut size = size;
            if let Some(cut) = &recovery {
                fs.truncate(&file, cut.offset)?;
                size = cut.offset;
            }
            if size == 0 {
                fs.append(&file, format::MAGIC)?;
                size = format::MAGIC.len() as u64;
            }
            if strict && (recovery.is_some() || size == format::MAGIC.len() as u64) {
                fs.sync(&file)?;
                fs.sync_dir(&dir)?;
            }
            Ok((size, recovery))
        })();
        match read {
            Ok((size, recovery)) => Ok(FileStore {
                fs,
                dir,
                file: Cell::new(Some(file)),
                size: Cell::new(size),
                strict,
                file_floor: Cell::new(index.floor_now()),
                index,
                recovery,
            }),
            Err(e) => {
                fs.close(file);
                Err((fs, e))
            }
        }
    }

    /// What opening cut off the end of the log (a torn tail), if anything.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// The store's directory.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The last global position written (`Position(0)` for an empty log).
    pub fn head_position(&self) -> Result<Position> {
        self.index.head_position()
    }

    /// Whether [`EventStore::close`] was called (or the store closed itself after a
    /// failed write).
    pub fn is_closed(&self) -> bool {
        self.index.is_closed()
    }

    /// Appends synchronously (the async trait method is a thin wrapper); `bytes` is the
    /// payload size counted in the metrics. The batch goes through the memory index's
    /// rules first, then its frame is written (and fsynced when strict); a failed write
    /// takes the append back.
    pub fn append_now(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        events: Vec<NewEvent<String>>,
        bytes: u64,
    ) -> Result<AppendResult> {
        let before = self.index.head_position()?;
        let result = self.index.append_now(stream, expected, condition, events, bytes)?;
        if result.last_position <= before {
            return Ok(result); // an idempotent retry: already on disk
        }
        let written = self.index.events_after(before);
        let outcome = format::encode_frame(stream, &written).and_then(|frame| self.write(&frame));
        if let Err(e) = outcome {
            self.index.undo_append(before, bytes);
            return Err(e);
        }
        Ok(result)
    }

    /// Applies `retention` (see [`crate::store::retention`]): the index drops the events
    /// below the new floor, then the log file is rewritten without them (see the module
    /// docs). A failed rewrite leaves the old file in place (a reopened store holds the
    /// dropped events again) and is reported; a failure to reopen the new file closes
    /// the store.
    pub fn compact_now(&self, retention: &Retention) -> Result<Compacted> {
        let done = self.index.compact_now(retention)?;
        if done.from > self.file_floor.get() {
            self.rewrite()?;
        }
        Ok(done)
    }

    /// Retention's floor: the lowest position held.
    pub fn floor_now(&self) -> Position {
        self.index.floor_now()
    }

    /// The log file's length in bytes.
    pub fn file_size(&self) -> u64 {
        self.size.get()
    }

    /// Writes the held events to [`COMPACT_FILE`] and renames it over the log.
    fn rewrite(&self) -> Result<()> {
        let tmp = format!("{}/{COMPACT_FILE}", self.dir);
        let path = format!("{}/{LOG_FILE}", self.dir);
        let floor = self.index.floor_record();
        let held = self.index.events_after(Position(floor.floor.0 - 1));
        self.fs.remove(&tmp)?;
        let out = self.fs.open_append(&tmp)?;
        let mut size = 0u64;
        let written = (|| {
            let mut put = |bytes: &[u8]| {
                size += bytes.len() as u64;
                self.fs.append(&out, bytes)
            };
            put(format::MAGIC)?;
            put(&format::encode_floor(&floor)?)?;
            let mut rest = &held[..];
            while let Some(first) = rest.first() {
                let run = rest
                    .iter()
                    .take(super::MAX_BATCH_EVENTS)
                    .take_while(|e| e.stream == first.stream)
                    .count();
                put(&format::encode_frame(&first.stream, &rest[..run])?)?;
                rest = &rest[run..];
            }
            self.fs.sync(&out)
        })();
        self.fs.close(out);
        if let Err(e) = written {
            let _ = self.fs.remove(&tmp);
            return Err(e);
        }
        let old = self.file.take().ok_or(Error::Closed)?;
        self.fs.close(old);
        if let Err(e) = self.fs.rename(&tmp, &path) {
            let _ = self.fs.remove(&tmp);
            return match self.fs.open_append(&path) {
                Ok(file) => {
                    self.file.set(Some(file));
                    Err(e)
                }
                Err(reopen) => Err(self.shut_closed(reopen)),
            };
        }
        let reopened = self.fs.sync_dir(&self.dir).and_then(|()| self.fs.open_append(&path));
        match reopened {
            Ok(file) => {
                self.file.set(Some(file));
                self.size.set(size);
                self.file_floor.set(floor.floor);
                Ok(())
            }
            Err(e) => Err(self.shut_closed(e)),
        }
    }

    /// [`Self::shut`] when the log file is already closed.
    fn shut_closed(&self, e: Error) -> Error {
        self.index.close_and_free();
        let _ = self.fs.remove(&format!("{}/{LOCK_FILE}", self.dir));
        e
    }

    /// Writes a frame at the end of the log (and fsyncs it when strict). A failed write
    /// is cut back to where the frame started; when that fails too, or the fsync fails,
    /// the store closes itself.
    fn write(&self, frame: &[u8]) -> Result<()> {
        let file = self.file.take().ok_or(Error::Closed)?;
        let start = self.size.get();
        if let Err(e) = self.fs.append(&file, frame) {
            if self.fs.truncate(&file, start).is_ok() {
                self.file.set(Some(file));
                return Err(e);
            }
            return Err(self.shut(file, e));
        }
        if self.strict {
            if let Err(e) = self.fs.sync(&file) {
                return Err(self.shut(file, e));
            }
        }
        self.size.set(start + frame.len() as u64);
        self.file.set(Some(file));
        Ok(())
    }

    /// Closes the store after a write it could not take back (the disk may or may not
    /// hold the frame: only reopening can tell) and says so in the error.
    fn shut(&self, file: F::File, e: Error) -> Error {
        self.fs.close(file);
        self.index.close_and_free();
        let _ = self.fs.remove(&format!("{}/{LOCK_FILE}", self.dir));
        let note = "the store closed itself: reopen it to read what the disk holds";
        match e {
            Error::Storage { name, message } => {
                Error::Storage { name, message: format!("{message}; {note}") }
            }
            Error::QuotaExceeded { message } => {
                Error::QuotaExceeded { message: format!("{message}; {note}") }
            }
            other => other,
        }
    }
}

/// In wasm32, grows the heap once for the index a log of `size` bytes rebuilds (about
/// twice its size): the allocator otherwise grows the memory 64 KiB at a time, and in V8
/// each growth costs about a millisecond (a 200k-event log: 1600 growths, most of its
/// open time). The block is freed at once and small allocations then come out of it. A
/// host that cannot give that much memory just skips it.
fn warm_up(size: u64) {
    #[cfg(target_arch = "wasm32")]
    {
        let want = usize::try_from(size.saturating_mul(2)).unwrap_or(usize::MAX).min(1 << 30);
        let mut block: Vec<u8> = Vec::new();
        let _ = block.try_reserve_exact(want);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = size;
}

/// Takes the store's lock file for this process: creates it exclusively with the process
/// id; a lock whose process is gone is stale and replaced.
fn take_lock<F: FileSystem>(fs: &F, path: &str) -> Result<()> {
    let pid = fs.pid();
    for _ in 0..3 {
        if fs.create_new(path, pid.to_string().as_bytes())? {
            return Ok(());
        }
        let owner = fs
            .read_small(path)?
            .and_then(|bytes| std::str::from_utf8(&bytes).ok()?.trim().parse::<u32>().ok());
        match owner {
            Some(owner) if fs.alive(owner) => {
                let whose =
                    if owner == pid { " (this process: the store is already open)" } else { "" };
                return Err(Error::storage(
                    "Locked",
                    format!(
                        "{path} is held by process {owner}{whose}; one process at a time opens a file store"
                    ),
                ));
            }
            // Its process is gone (or it holds no pid): stale, replace it.
            _ => fs.remove(path)?,
        }
    }
    Err(Error::storage("Locked", format!("{path} keeps being taken by other processes")))
}

impl<F: FileSystem, E: Environment> EventStore for FileStore<F, E> {
    type Payload = String;

    async fn append_if(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        condition: Option<&AppendCondition>,
        events: Vec<NewEvent<String>>,
    ) -> Result<AppendResult> {
        self.append_now(stream, expected, condition, events, 0)
    }

    async fn query(&self, query: &Query, options: QueryOptions) -> Result<Vec<Event<String>>> {
        self.index.query(query, options).await
    }

    async fn read(&self, stream: &StreamId, options: ReadOptions) -> Result<Vec<Event<String>>> {
        self.index.read(stream, options).await
    }

    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<Event<String>>> {
        self.index.read_all(from, limit).await
    }

    async fn version(&self, stream: &StreamId) -> Result<Version> {
        self.index.version(stream).await
    }

    async fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.index.streams().await
    }

    async fn compact(&self, retention: &Retention) -> Result<Compacted> {
        self.compact_now(retention)
    }

    async fn floor(&self) -> Result<Position> {
        self.index.floor().await
    }

    fn metrics(&self) -> Metrics {
        self.index.metrics()
    }

    /// Closes the log file, releases the lock and frees the index.
    fn close(&self) {
        self.index.close_and_free();
        if let Some(file) = self.file.take() {
            self.fs.close(file);
            let _ = self.fs.remove(&format!("{}/{LOCK_FILE}", self.dir));
        }
    }
}
