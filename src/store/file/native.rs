//! [`StdFileSystem`]: the file store's port over `std::fs` (native builds: the crate's
//! own tests, and Rust programs that embed the store).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};

use super::FileSystem;
use crate::error::{Error, Result};

/// The file store's port over `std::fs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdFileSystem;

fn io(path: &str, e: std::io::Error) -> Error {
    if e.kind() == ErrorKind::StorageFull || e.kind() == ErrorKind::QuotaExceeded {
        return Error::QuotaExceeded { message: format!("{path}: {e}") };
    }
    Error::storage(format!("{:?}", e.kind()), format!("{path}: {e}"))
}

impl FileSystem for StdFileSystem {
    type File = (File, String);

    fn create_dir_all(&self, path: &str) -> Result<()> {
        std::fs::create_dir_all(path).map_err(|e| io(path, e))
    }

    fn create_new(&self, path: &str, contents: &[u8]) -> Result<bool> {
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut file) => file.write_all(contents).map(|()| true).map_err(|e| io(path, e)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(path, e)),
        }
    }

    fn read_small(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path, e)),
        }
    }

    fn remove(&self, path: &str) -> Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io(path, e)),
            _ => Ok(()),
        }
    }

    fn exists(&self, path: &str) -> Result<bool> {
        std::fs::exists(path).map_err(|e| io(path, e))
    }

    fn remove_dir(&self, path: &str) -> Result<()> {
        match std::fs::remove_dir(path) {
            Err(e) if !matches!(e.kind(), ErrorKind::NotFound | ErrorKind::DirectoryNotEmpty) => {
                Err(io(path, e))
            }
            _ => Ok(()),
        }
    }

    fn open_append(&self, path: &str) -> Result<(File, String)> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        Ok((file, path.to_string()))
    }

    fn size(&self, (file, path): &(File, String)) -> Result<u64> {
        file.metadata().map(|m| m.len()).map_err(|e| io(path, e))
    }

    fn read_at(&self, (file, path): &(File, String), offset: u64, buf: &mut [u8]) -> Result<usize> {
        let mut reader = file;
        reader.seek(SeekFrom::Start(offset)).map_err(|e| io(path, e))?;
        reader.read(buf).map_err(|e| io(path, e))
    }

    fn append(&self, (file, path): &(File, String), bytes: &[u8]) -> Result<()> {
        let mut writer = file;
        writer.write_all(bytes).map_err(|e| io(path, e))
    }

    fn truncate(&self, (file, path): &(File, String), len: u64) -> Result<()> {
        file.set_len(len).map_err(|e| io(path, e))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        std::fs::rename(from, to).map_err(|e| io(from, e))
    }

    fn sync(&self, (file, path): &(File, String)) -> Result<()> {
        file.sync_data().map_err(|e| io(path, e))
    }

    fn sync_dir(&self, path: &str) -> Result<()> {
        // Directories open read-only on Unix; elsewhere there is no directory fsync.
        match File::open(path) {
            Ok(dir) if cfg!(unix) => dir.sync_all().map_err(|e| io(path, e)),
            _ => Ok(()),
        }
    }

    fn close(&self, file: (File, String)) {
        drop(file);
    }

    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn alive(&self, pid: u32) -> bool {
        // Linux and other procfs systems; elsewhere a lock is never taken as stale.
        if std::path::Path::new("/proc/self").exists() {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        } else {
            true
        }
    }
}
