//! A static file server for `dist/` on localhost (axum + tower-http's `ServeDir`).
//!
//! What a plain static host does, which the site relies on: the right MIME types
//! (`application/wasm` for streaming compilation), Range requests (model downloads resume),
//! `index.html` for directories (with a redirect to the trailing slash), `404.html` with
//! status 404 for unknown paths. `Cache-Control: no-cache` makes the browser revalidate
//! (ETag / Last-Modified) so a rebuilt site is never shadowed by a stale copy.
//! The site is served under the path of its URL (`/` or e.g. `/sub/`), as a host would.
//! Every response carries [`ISOLATION`] (the OCR worker's threads need a cross-origin
//! isolated page) and the OCR widget [`EMBED_ISOLATION`] as well; `dist/_headers` says the
//! same to static hosts that read it. `Isolation::Off` serves without them, as a host that
//! sets no headers would (the browser tests' "not isolated" origin).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use axum::{http::HeaderValue, response::Redirect, routing::get, Router};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

use crate::dist::SiteUrl;

/// Folders served beside the site, at their own path (`/models/`: model files for the OCR
/// page, with Range support so interrupted downloads resume).
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub mounts: Vec<(String, PathBuf)>,
    /// The votes service to forward `<base>api/…` and `<base>healthz` to (votes.rs).
    pub votes: Option<SocketAddr>,
}

impl Extra {
    /// One folder at `at` (an absolute path such as `/models/`).
    pub fn mount(mut self, at: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.mounts.push((at.into(), dir.into()));
        self
    }
}

/// Cross-origin isolation (COOP + COEP: `crossOriginIsolated`, so SharedArrayBuffer and
/// the threaded worker), and CORP `cross-origin` so other sites, isolated ones included,
/// may embed our badges, cards and widget and load model files from us. Model downloads
/// from the Hub are CORS requests, which COEP `require-corp` lets through.
pub const ISOLATION: [(&str, &str); 3] = [
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    ("Cross-Origin-Resource-Policy", "cross-origin"),
];

/// Isolates the OCR widget by itself inside a third-party page that is not isolated
/// (Chrome 137+); elsewhere the widget runs on one thread.
pub const EMBED_ISOLATION: (&str, &str) = ("Document-Isolation-Policy", "isolate-and-require-corp");

/// Whether responses carry the isolation headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    On,
    Off,
}

async fn isolate(
    embed_ocr: std::sync::Arc<str>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_embed = req.uri().path().starts_with(&*embed_ocr);
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in ISOLATION {
        h.insert(name, HeaderValue::from_static(value));
    }
    if is_embed {
        h.insert(
            EMBED_ISOLATION.0,
            HeaderValue::from_static(EMBED_ISOLATION.1),
        );
    }
    res
}

pub fn router(dist: &Path, base: &str, extra: &Extra) -> Router {
    router_with(dist, base, extra, Isolation::On)
}

pub fn router_with(dist: &Path, base: &str, extra: &Extra, isolation: Isolation) -> Router {
    let site = ServeDir::new(dist)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(dist.join("404.html")));
    let mut app = Router::new();
    for (at, dir) in &extra.mounts {
        app = app.nest_service(at.trim_end_matches('/'), ServeDir::new(dir));
    }
    if let Some(upstream) = extra.votes {
        app = crate::votes::proxy_routes(app, base, upstream);
    }
    let app = if base == "/" {
        app.fallback_service(site)
    } else {
        let to = base.to_owned();
        app.nest_service(base.trim_end_matches('/'), site)
            .route("/", get(move || async move { Redirect::temporary(&to) }))
            .fallback_service(ServeFile::new(dist.join("404.html")))
    };
    let app = app.layer(SetResponseHeaderLayer::overriding(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    ));
    match isolation {
        Isolation::On => {
            let embed_ocr: std::sync::Arc<str> = format!("{base}embed/ocr").into();
            app.layer(axum::middleware::from_fn(move |req, next| {
                isolate(embed_ocr.clone(), req, next)
            }))
        }
        Isolation::Off => app,
    }
}

/// Serves until Ctrl-C.
pub fn serve_forever(dist: &Path, site: &SiteUrl, port: u16, extra: &Extra) -> Result<()> {
    let app = router(dist, &site.path, extra);
    tokio::runtime::Runtime::new()?.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (is the port in use? try --port)"))?;
        eprintln!(
            "xtask: serving {} at http://localhost:{port}{} (Ctrl-C stops)",
            dist.display(),
            site.path
        );
        for (at, dir) in &extra.mounts {
            eprintln!(
                "xtask: serving {} at http://localhost:{port}{at}",
                dir.display()
            );
        }
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("server failed")
    })
}

/// Serves on a free port from a background thread, for the browser tests; returns its address.
/// The server lives as long as the process.
pub fn spawn(dist: &Path, base: &str, extra: &Extra, isolation: Isolation) -> Result<SocketAddr> {
    let app = router_with(dist, base, extra, isolation);
    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind(SocketAddr::from((
        [127, 0, 0, 1],
        0,
    ))))?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        rt.block_on(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("xtask: test server failed: {e}");
            }
        })
    });
    Ok(addr)
}
