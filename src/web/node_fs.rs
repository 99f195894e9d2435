//! [`NodeFileSystem`]: the file store's port ([`FileSystem`]) over `node:fs`, for Node,
//! Deno and Bun (feature `file`: the package's Node build only). The calls are the
//! synchronous ones of `js/node_fs.js`; a file is its descriptor.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use super::convert::js_error;
use crate::error::{Error, Result};
use crate::store::file::FileSystem;

#[wasm_bindgen(raw_module = "./js/node_fs.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = makeDir)]
    fn make_dir(path: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = createNew)]
    fn create_new(path: &str, contents: &[u8]) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_name = readSmall)]
    fn read_small(path: &str) -> Result<Option<Vec<u8>>, JsValue>;
    #[wasm_bindgen(catch, js_name = removeFile)]
    fn remove_file(path: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = pathExists)]
    fn path_exists(path: &str) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_name = removeEmptyDir)]
    fn remove_empty_dir(path: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = openAppend)]
    fn open_append(path: &str) -> Result<u32, JsValue>;
    #[wasm_bindgen(catch, js_name = fileSize)]
    fn file_size(fd: u32) -> Result<f64, JsValue>;
    #[wasm_bindgen(catch, js_name = readAt)]
    fn read_at(fd: u32, offset: f64, buf: &mut [u8]) -> Result<u32, JsValue>;
    #[wasm_bindgen(catch, js_name = appendBytes)]
    fn append_bytes(fd: u32, bytes: &[u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = truncateFile)]
    fn truncate_file(fd: u32, len: f64) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = renameFile)]
    fn rename_file(from: &str, to: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = syncFile)]
    fn sync_file(fd: u32) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = syncDir)]
    fn sync_dir(path: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = closeFile)]
    fn close_file(fd: u32);
    #[wasm_bindgen(js_name = processId)]
    fn process_id() -> u32;
    #[wasm_bindgen(js_name = processAlive)]
    fn process_alive(pid: u32) -> bool;
}

/// A node:fs error as a typed error: a full disk (`ENOSPC`, `EDQUOT`) is
/// [`Error::QuotaExceeded`], anything else [`Error::Storage`] named by its `code`.
fn fs_error(value: JsValue) -> Error {
    let code = Reflect::get(&value, &"code".into()).ok().and_then(|c| c.as_string());
    match (code, js_error(value)) {
        (Some(code), Error::Storage { message, .. }) if code == "ENOSPC" || code == "EDQUOT" => {
            Error::QuotaExceeded { message }
        }
        (Some(code), Error::Storage { message, .. }) => Error::Storage { name: code, message },
        (_, e) => e,
    }
}

/// The file store's port over `node:fs` (Node, Deno, Bun).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeFileSystem;

impl FileSystem for NodeFileSystem {
    type File = u32;

    fn create_dir_all(&self, path: &str) -> Result<()> {
        make_dir(path).map_err(fs_error)
    }

    fn create_new(&self, path: &str, contents: &[u8]) -> Result<bool> {
        create_new(path, contents).map_err(fs_error)
    }

    fn read_small(&self, path: &str) -> Result<Option<Vec<u8>>> {
        read_small(path).map_err(fs_error)
    }

    fn remove(&self, path: &str) -> Result<()> {
        remove_file(path).map_err(fs_error)
    }

    fn exists(&self, path: &str) -> Result<bool> {
        path_exists(path).map_err(fs_error)
    }

    fn remove_dir(&self, path: &str) -> Result<()> {
        remove_empty_dir(path).map_err(fs_error)
    }

    fn open_append(&self, path: &str) -> Result<u32> {
        open_append(path).map_err(fs_error)
    }

    fn size(&self, fd: &u32) -> Result<u64> {
        Ok(file_size(*fd).map_err(fs_error)? as u64)
    }

    fn read_at(&self, fd: &u32, offset: u64, buf: &mut [u8]) -> Result<usize> {
        Ok(read_at(*fd, offset as f64, buf).map_err(fs_error)? as usize)
    }

    fn append(&self, fd: &u32, bytes: &[u8]) -> Result<()> {
        append_bytes(*fd, bytes).map_err(fs_error)
    }

    fn truncate(&self, fd: &u32, len: u64) -> Result<()> {
        truncate_file(*fd, len as f64).map_err(fs_error)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        rename_file(from, to).map_err(fs_error)
    }

    fn sync(&self, fd: &u32) -> Result<()> {
        sync_file(*fd).map_err(fs_error)
    }

    fn sync_dir(&self, path: &str) -> Result<()> {
        sync_dir(path).map_err(fs_error)
    }

    fn close(&self, fd: u32) {
        close_file(fd);
    }

    fn pid(&self) -> u32 {
        process_id()
    }

    fn alive(&self, pid: u32) -> bool {
        process_alive(pid)
    }
}
