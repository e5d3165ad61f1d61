//! The model cache: the browser's Origin Private File System, through the synchronous
//! access handles a dedicated worker may use (positioned reads and writes straight from
//! and into WebAssembly memory).
//!
//! OPFS rather than Cache Storage: a download resumed with a Range request gets a 206
//! response, which Cache Storage refuses to store; here the part already received is a
//! file that grows where it left off. One folder per file URL (named by a hash of it)
//! holds `data` and `meta.json` ([`Meta`]).

use js_sys::Promise;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemReadWriteOptions, FileSystemRemoveOptions,
    FileSystemSyncAccessHandle, WorkerGlobalScope,
};

/// What is known about one cached file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    pub url: String,
    /// The file's full size, once a response said it.
    pub total: Option<u64>,
    /// `data` holds the whole file (and, where a checksum was known, it matched).
    pub complete: bool,
    /// The server said this optional file does not exist (404 or 410): no request next
    /// time.
    pub absent: bool,
    /// What identifies this version of the file on the server: its strong `ETag`, else
    /// its `Last-Modified`. A resumed download must continue the same version.
    #[serde(default)]
    pub validator: Option<String>,
}

/// A `String` error from a JavaScript one.
pub fn js_error(e: JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

async fn wait(p: Promise) -> Result<JsValue, String> {
    JsFuture::from(p).await.map_err(js_error)
}

const ROOT: &str = "smolvlm-models";

/// The cache folder.
pub struct Cache {
    root: FileSystemDirectoryHandle,
}

impl Cache {
    /// Opens (creating) the cache folder; an error when this browser has no OPFS.
    pub async fn open() -> Result<Self, String> {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let storage = scope.navigator().storage();
        let top: FileSystemDirectoryHandle = wait(storage.get_directory()).await?.unchecked_into();
        let opts = FileSystemGetDirectoryOptions::new();
        opts.set_create(true);
        let root = wait(top.get_directory_handle_with_options(ROOT, &opts))
            .await?
            .unchecked_into();
        Ok(Self { root })
    }

    /// The entry of one file, by its key (created if missing).
    pub async fn entry(&self, key: &str) -> Result<Entry, String> {
        let opts = FileSystemGetDirectoryOptions::new();
        opts.set_create(true);
        let dir = wait(self.root.get_directory_handle_with_options(key, &opts))
            .await?
            .unchecked_into();
        Ok(Entry {
            dir,
            key: key.to_string(),
        })
    }

    /// Removes one entry and everything in it.
    pub async fn remove(&self, key: &str) -> Result<(), String> {
        let opts = FileSystemRemoveOptions::new();
        opts.set_recursive(true);
        match wait(self.root.remove_entry_with_options(key, &opts)).await {
            Ok(_) => Ok(()),
            // Already gone.
            Err(e) if e.contains("could not be found") || e.contains("NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes every cached file.
    pub async fn clear() -> Result<(), String> {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let top: FileSystemDirectoryHandle = wait(scope.navigator().storage().get_directory())
            .await?
            .unchecked_into();
        let opts = FileSystemRemoveOptions::new();
        opts.set_recursive(true);
        match wait(top.remove_entry_with_options(ROOT, &opts)).await {
            Ok(_) => Ok(()),
            Err(e) if e.contains("could not be found") || e.contains("NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// One cached file's folder.
pub struct Entry {
    dir: FileSystemDirectoryHandle,
    pub key: String,
}

impl Entry {
    async fn file(&self, name: &str) -> Result<SyncFile, String> {
        let opts = FileSystemGetFileOptions::new();
        opts.set_create(true);
        let handle: FileSystemFileHandle = wait(self.dir.get_file_handle_with_options(name, &opts))
            .await?
            .unchecked_into();
        // Fails when another tab holds the file open (it is downloading it too).
        let sync = wait(handle.create_sync_access_handle()).await?;
        Ok(SyncFile {
            h: sync.unchecked_into(),
        })
    }

    /// The metadata, or None for a new entry (or an unreadable one, which is then
    /// treated as new).
    pub async fn meta(&self) -> Option<Meta> {
        let f = self.file("meta.json").await.ok()?;
        let bytes = f.read_all().ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub async fn set_meta(&self, meta: &Meta) -> Result<(), String> {
        let f = self.file("meta.json").await?;
        let json = serde_json::to_vec(meta).map_err(|e| e.to_string())?;
        f.truncate(0)?;
        f.write_at(&json, 0)?;
        f.flush()
    }

    /// The file's bytes, opened for positioned reads and writes.
    pub async fn data(&self) -> Result<SyncFile, String> {
        self.file("data").await
    }
}

/// An open synchronous access handle; closed when dropped.
pub struct SyncFile {
    h: FileSystemSyncAccessHandle,
}

impl SyncFile {
    pub fn size(&self) -> Result<u64, String> {
        self.h.get_size().map(|s| s as u64).map_err(js_error)
    }

    pub fn write_at(&self, bytes: &[u8], at: u64) -> Result<(), String> {
        let opts = FileSystemReadWriteOptions::new();
        opts.set_at(at as f64);
        let written = self
            .h
            .write_with_u8_array_and_options(bytes, &opts)
            .map_err(js_error)? as usize;
        if written != bytes.len() {
            return Err(format!(
                "the browser's storage took {written} of {} bytes (is the disk full?)",
                bytes.len()
            ));
        }
        Ok(())
    }

    /// Writes a JavaScript `Uint8Array` (a downloaded chunk) without copying it into
    /// WebAssembly memory first.
    pub fn write_js_at(&self, chunk: &js_sys::Uint8Array, at: u64) -> Result<(), String> {
        let opts = FileSystemReadWriteOptions::new();
        opts.set_at(at as f64);
        let written = self
            .h
            .write_with_js_u8_array_and_options(chunk, &opts)
            .map_err(js_error)? as u32;
        if written != chunk.length() {
            return Err(format!(
                "the browser's storage took {written} of {} bytes (is the disk full?)",
                chunk.length()
            ));
        }
        Ok(())
    }

    /// The whole file.
    pub fn read_all(&self) -> Result<Vec<u8>, String> {
        let size = usize::try_from(self.size()?)
            .map_err(|_| "the cached file is larger than WebAssembly can hold".to_string())?;
        let mut buf = Vec::new();
        buf.try_reserve_exact(size)
            .map_err(|_| format!("not enough memory to read the cached file ({size} bytes)"))?;
        buf.resize(size, 0);
        let opts = FileSystemReadWriteOptions::new();
        opts.set_at(0.0);
        let read = self
            .h
            .read_with_u8_array_and_options(&mut buf, &opts)
            .map_err(js_error)? as usize;
        if read != size {
            return Err(format!("read {read} of {size} bytes from the cache"));
        }
        Ok(buf)
    }

    pub fn truncate(&self, len: u64) -> Result<(), String> {
        self.h.truncate_with_f64(len as f64).map_err(js_error)
    }

    pub fn flush(&self) -> Result<(), String> {
        self.h.flush().map_err(js_error)
    }
}

impl Drop for SyncFile {
    fn drop(&mut self) {
        self.h.close();
    }
}
