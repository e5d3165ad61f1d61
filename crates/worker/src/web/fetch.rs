//! Getting one model file: from the cache when it is there whole, else downloaded in a
//! stream (progress events as it comes, the bytes written to the cache as they arrive),
//! resuming a part left by an interrupted download with a `Range` request.
//!
//! Checks: the size a response announces against the size known beforehand (menu
//! models), the bytes received against the announced size, and the SHA-256 where one
//! is known, both after a download and each time a cached copy is used. A file that
//! fails a check is removed from the cache. A resumed download continues the same
//! version of the file (`If-Range`, and the `ETag` of the answer), or starts over.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Uint8Array;
use ocr_protocol::models::file_name;
use ocr_protocol::{Event, Failure, FailureKind, ModelFile};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, ReadableStreamDefaultReader, RequestCache, RequestInit, Response,
};

use super::opfs::{js_error, Cache, Meta, SyncFile};
use super::{now, post, scope};

/// What one load shares between its files.
pub struct LoadCtx {
    pub load: u32,
    pub cancel: Rc<Cell<bool>>,
    pub abort: AbortController,
    /// None when the browser has no OPFS (or refused it): files are then downloaded into
    /// memory only.
    pub cache: Option<Cache>,
    /// Whether any file was downloaded (rather than read from the cache).
    pub downloaded: Cell<bool>,
}

/// The cache key of a URL: a hash, as a folder name.
pub fn key(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cancelled() -> Failure {
    Failure::new(
        FailureKind::Cancelled,
        "Download cancelled. The part already downloaded is kept: loading again resumes it.",
    )
}

impl LoadCtx {
    fn progress(&self, file: &str, loaded: u64, total: Option<u64>, from_cache: bool) {
        post(&Event::Progress {
            load: self.load,
            file: file.to_string(),
            loaded,
            total,
            from_cache,
        });
    }

    /// The size of a file without downloading it: the cache's, the known one, or a HEAD
    /// request's `Content-Length`.
    pub async fn size_of(&self, file: &ModelFile) -> Option<u64> {
        if let Some(cache) = &self.cache {
            if let Ok(entry) = cache.entry(&key(&file.url)).await {
                if let Some(Meta {
                    total: Some(t),
                    complete: true,
                    ..
                }) = entry.meta().await
                {
                    return Some(t);
                }
            }
        }
        if file.size.is_some() {
            return file.size;
        }
        let init = RequestInit::new();
        init.set_method("HEAD");
        init.set_signal(Some(&self.abort.signal()));
        init.set_cache(RequestCache::NoStore);
        let resp: Response = JsFuture::from(scope().fetch_with_str_and_init(&file.url, &init))
            .await
            .ok()?
            .dyn_into()
            .ok()?;
        if !resp.ok() {
            return None;
        }
        header_u64(&resp.headers(), "content-length")
    }

    /// The file's bytes. `optional`: a 404 (or 403/410) answer is None, remembered so the
    /// next load makes no request for it.
    pub async fn get(&self, file: &ModelFile, optional: bool) -> Result<Option<Vec<u8>>, Failure> {
        let name = file_name(&file.url).to_string();
        let entry = match &self.cache {
            Some(cache) => cache.entry(&key(&file.url)).await.ok(),
            None => None,
        };
        let meta = match &entry {
            Some(e) => e.meta().await,
            None => None,
        };
        // Opening the data file fails when another tab is writing it: go on uncached.
        let data = match &entry {
            Some(e) => e.data().await.ok(),
            None => None,
        };
        if let Some(meta) = &meta {
            if meta.absent && optional {
                return Ok(None);
            }
            if let (true, Some(total), Some(data)) = (meta.complete, meta.total, &data) {
                let on_disk = data.size().unwrap_or(0);
                if on_disk == total && file.size.is_none_or(|s| s == total) {
                    let bytes = data.read_all().map_err(|e| storage(&name, &e))?;
                    // The stored copy is checked again before each use: storage can be
                    // damaged, or written by another page of this site.
                    let intact = file
                        .sha256
                        .as_ref()
                        .is_none_or(|want| hex(&Sha256::digest(&bytes)).eq_ignore_ascii_case(want));
                    if intact {
                        self.progress(&name, total, Some(total), true);
                        return Ok(Some(bytes));
                    }
                    console_note(&format!(
                        "{name}: the copy in this browser's storage no longer matches the published SHA-256; downloading it afresh."
                    ));
                }
            }
        }
        // Whatever is stored and not whole and right, a download replaces or continues.
        let meta = meta.filter(|m| !m.complete);
        self.downloaded.set(true);
        self.download(file, &name, optional, entry.as_ref(), meta, data)
            .await
    }

    async fn download(
        &self,
        file: &ModelFile,
        name: &str,
        optional: bool,
        entry: Option<&super::opfs::Entry>,
        meta: Option<Meta>,
        data: Option<SyncFile>,
    ) -> Result<Option<Vec<u8>>, Failure> {
        // Resume where a previous download of the same URL stopped.
        let mut offset = match (&meta, &data) {
            (Some(m), Some(d)) if !m.complete && !m.absent && m.url == file.url => {
                d.size().unwrap_or(0)
            }
            _ => 0,
        };
        if offset == 0 {
            if let Some(d) = &data {
                d.truncate(0).map_err(|e| storage(name, &e))?;
            }
        }
        let headers = Headers::new().map_err(|e| internal(&js_error(e)))?;
        let stored_version = meta.as_ref().and_then(|m| m.validator.clone());
        if offset > 0 {
            // `bytes=N-` is a CORS-safelisted Range: no preflight on other origins.
            headers
                .set("Range", &format!("bytes={offset}-"))
                .map_err(|e| internal(&js_error(e)))?;
            // The rest only if the file is still the version whose start we have; else
            // the server sends it whole. `If-Range` is not CORS-safelisted, so only on our
            // own origin: elsewhere it would cost a preflight that not every model host
            // answers. There the answer's version is compared below instead.
            if let (Some(version), true) = (&stored_version, same_origin(&file.url)) {
                headers
                    .set("If-Range", version)
                    .map_err(|e| internal(&js_error(e)))?;
            }
        }
        let init = RequestInit::new();
        init.set_headers(&headers);
        init.set_signal(Some(&self.abort.signal()));
        // The cache here is ours (OPFS): do not keep a second copy in the HTTP cache.
        init.set_cache(RequestCache::NoStore);
        let resp = JsFuture::from(scope().fetch_with_str_and_init(&file.url, &init)).await;
        if self.cancel.get() {
            return Err(cancelled());
        }
        let resp: Response = match resp {
            Ok(r) => r.unchecked_into(),
            Err(e) => {
                return Err(Failure::new(
                    FailureKind::ModelUnreachable,
                    format!(
                        "Could not reach {} ({}). Check the address and your connection; a model on another site must allow cross-origin downloads (CORS).",
                        file.url,
                        js_error(e)
                    ),
                ))
            }
        };
        let status = resp.status();
        if optional && matches!(status, 401 | 403 | 404 | 410) {
            // Only "not there" is remembered: a refusal (401/403) may pass once the
            // visitor signs in or the host changes its rules, so it is asked again.
            if let (Some(entry), true) = (entry, matches!(status, 404 | 410)) {
                let _ = entry
                    .set_meta(&Meta {
                        url: file.url.clone(),
                        absent: true,
                        ..Default::default()
                    })
                    .await;
            }
            return Ok(None);
        }
        let version = version_of(&resp.headers());
        let total = match status {
            206 => {
                let range = resp.headers().get("content-range").ok().flatten();
                // A server that ignored (or was not sent) If-Range: the version it names
                // must be the one whose start is on disk.
                let changed = matches!((&stored_version, &version), (Some(a), Some(b)) if a != b);
                match range.as_deref().and_then(parse_content_range) {
                    Some((start, total)) if start == offset && !changed => total,
                    // A range we did not ask for, or of another version of the file:
                    // start again from the beginning.
                    _ => {
                        if let Some(d) = &data {
                            d.truncate(0).map_err(|e| storage(name, &e))?;
                        }
                        return Box::pin(self.download(file, name, optional, entry, None, data))
                            .await;
                    }
                }
            }
            200 => {
                offset = 0;
                if let Some(d) = &data {
                    d.truncate(0).map_err(|e| storage(name, &e))?;
                }
                header_u64(&resp.headers(), "content-length")
            }
            416 if offset > 0 => {
                // The part on disk is already the whole file (or the file changed):
                // start over, which settles both.
                if let Some(d) = &data {
                    d.truncate(0).map_err(|e| storage(name, &e))?;
                }
                return Box::pin(self.download(file, name, optional, entry, None, data)).await;
            }
            _ => {
                let text = resp.status_text();
                return Err(Failure::new(
                    FailureKind::ModelHttp,
                    format!(
                        "{} answered {status}{}{text}. Check the model address.",
                        file.url,
                        if text.is_empty() { "" } else { " " }
                    ),
                ));
            }
        };
        if let (Some(want), Some(got)) = (file.size, total) {
            if want != got {
                return Err(Failure::new(
                    FailureKind::ModelCorrupt,
                    format!("{name} is {got} bytes on the server, but the published file has {want}: not the expected file."),
                ));
            }
        }
        let total = total.or(file.size);
        if let Some(entry) = entry {
            entry
                .set_meta(&Meta {
                    url: file.url.clone(),
                    total,
                    complete: false,
                    absent: false,
                    validator: version.clone(),
                })
                .await
                .map_err(|e| storage(name, &e))?;
        }

        let Some(body) = resp.body() else {
            return Err(internal("the response has no body"));
        };
        let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        // Without the cache, the bytes collect here.
        let mut memory: Vec<u8> = Vec::new();
        let mut loaded = offset;
        let mut last_report = 0.0;
        self.progress(name, loaded, total, false);
        loop {
            let chunk = JsFuture::from(reader.read()).await;
            if self.cancel.get() {
                let _ = reader.cancel();
                return Err(cancelled());
            }
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    return Err(Failure::new(
                        FailureKind::DownloadInterrupted,
                        format!(
                            "The download of {name} stopped after {} of {} ({}). {}",
                            ocr_protocol::memory::human_bytes(loaded),
                            total.map_or("?".into(), ocr_protocol::memory::human_bytes),
                            js_error(e),
                            if data.is_some() {
                                "What arrived is kept: load again to resume from there."
                            } else {
                                "Load again to retry."
                            }
                        ),
                    ))
                }
            };
            let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                break;
            }
            let Ok(value) = js_sys::Reflect::get(&chunk, &JsValue::from_str("value")) else {
                break;
            };
            let bytes: Uint8Array = value.unchecked_into();
            match &data {
                Some(d) => d
                    .write_js_at(&bytes, loaded)
                    .map_err(|e| storage(name, &e))?,
                None => {
                    let start = memory.len();
                    memory
                        .try_reserve(bytes.length() as usize)
                        .map_err(|_| out_of_memory(name))?;
                    memory.resize(start + bytes.length() as usize, 0);
                    bytes.copy_to(&mut memory[start..]);
                }
            }
            loaded += bytes.length() as u64;
            let t = now();
            if t - last_report > 100.0 {
                last_report = t;
                self.progress(name, loaded, total, false);
            }
        }
        if let Some(total) = total {
            if loaded != total {
                return Err(Failure::new(
                    FailureKind::DownloadInterrupted,
                    format!(
                        "The download of {name} ended after {loaded} of {total} bytes. Load again to resume."
                    ),
                ));
            }
        }
        self.progress(name, loaded, Some(loaded), false);
        let bytes = match &data {
            Some(d) => {
                d.flush().map_err(|e| storage(name, &e))?;
                d.read_all().map_err(|e| storage(name, &e))?
            }
            None => memory,
        };
        if let Some(want) = &file.sha256 {
            let got = hex(&Sha256::digest(&bytes));
            if !got.eq_ignore_ascii_case(want) {
                if let (Some(cache), Some(entry)) = (&self.cache, entry) {
                    drop(data);
                    let _ = cache.remove(&entry.key).await;
                }
                return Err(Failure::new(
                    FailureKind::ModelCorrupt,
                    format!("{name} arrived damaged: its SHA-256 is {got}, the published file's is {want}. It was deleted; load again to download it afresh."),
                ));
            }
        }
        if let Some(entry) = entry {
            entry
                .set_meta(&Meta {
                    url: file.url.clone(),
                    total: Some(bytes.len() as u64),
                    complete: true,
                    absent: false,
                    validator: version,
                })
                .await
                .map_err(|e| storage(name, &e))?;
        }
        Ok(Some(bytes))
    }

    /// Forgets the cached copies of these URLs (a file that turned out damaged).
    pub async fn evict(&self, urls: &[String]) {
        if let Some(cache) = &self.cache {
            for url in urls {
                let _ = cache.remove(&key(url)).await;
            }
        }
    }
}

/// The version of the file an answer carries: its strong `ETag` (a weak one may not be
/// used in `If-Range`), else its `Last-Modified`. None when the server (or CORS, for
/// another origin that does not expose them) shows neither.
fn version_of(h: &Headers) -> Option<String> {
    let get = |name: &str| h.get(name).ok().flatten().filter(|v| !v.trim().is_empty());
    get("etag")
        .filter(|e| !e.starts_with("W/"))
        .or_else(|| get("last-modified"))
}

/// Whether `url` is on the worker's own origin.
fn same_origin(url: &str) -> bool {
    let own = scope().location().origin();
    web_sys::Url::new(url).is_ok_and(|u| u.origin() == own)
}

/// A line in the browser's console (for developers; the visitor sees the outcome).
fn console_note(message: &str) {
    web_sys::console::info_1(&JsValue::from_str(message));
}

fn header_u64(h: &Headers, name: &str) -> Option<u64> {
    h.get(name).ok().flatten()?.trim().parse().ok()
}

/// `bytes START-END/TOTAL` → (START, TOTAL if given).
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let start = range.split_once('-')?.0.trim().parse().ok()?;
    let total = total.trim().parse().ok();
    Some((start, total))
}

fn storage(name: &str, e: &str) -> Failure {
    Failure::new(
        FailureKind::Storage,
        format!("The browser's storage failed while keeping {name}: {e}"),
    )
}

fn internal(e: &str) -> Failure {
    Failure::new(FailureKind::Internal, format!("Downloading failed: {e}"))
}

fn out_of_memory(name: &str) -> Failure {
    Failure::new(
        FailureKind::OutOfMemory,
        format!("Not enough memory to hold {name}. Close other tabs or pick a smaller model."),
    )
}
