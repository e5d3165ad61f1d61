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
//!
//! It answers only requests addressed to this machine by name or address (`localhost`,
//! `*.localhost`, an IP): a page elsewhere whose domain an attacker points at 127.0.0.1
//! (DNS rebinding) sends its own name and is refused. And it serves nothing that a link
//! inside a served folder leads to outside it.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use axum::{
    http::{header::HOST, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect},
    routing::get,
    Router,
};
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

/// Whether a `Host` header names this machine: an IP address (DNS rebinding needs a domain
/// name), `localhost` or a name under `.localhost`, with or without a port.
fn local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:8080`
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    let name = name.to_ascii_lowercase();
    name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost")
}

async fn only_local_hosts(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
    if host.is_some_and(local_host) {
        return next.run(req).await;
    }
    (
        StatusCode::MISDIRECTED_REQUEST,
        "xtask serve answers requests for localhost or an IP address only\n",
    )
        .into_response()
}

/// `dir` served as files, and nothing a link inside it leads to outside it (404).
fn folder(dir: &Path, not_found: Option<PathBuf>) -> Router {
    let files = ServeDir::new(dir).append_index_html_on_directories(true);
    let app = match not_found {
        Some(page) => Router::new().fallback_service(files.not_found_service(ServeFile::new(page))),
        None => Router::new().fallback_service(files),
    };
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    app.layer(axum::middleware::from_fn(move |req, next| {
        inside_only(root.clone(), req, next)
    }))
}

async fn inside_only(
    root: PathBuf,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy();
    let wanted = root.join(path.trim_start_matches('/'));
    // A path that does not exist is ServeDir's 404; one that exists must resolve inside.
    match wanted.canonicalize() {
        Ok(real) if !real.starts_with(&root) => StatusCode::NOT_FOUND.into_response(),
        _ => next.run(req).await,
    }
}

pub fn router(dist: &Path, base: &str, extra: &Extra) -> Router {
    router_with(dist, base, extra, Isolation::On)
}

pub fn router_with(dist: &Path, base: &str, extra: &Extra, isolation: Isolation) -> Router {
    let site = folder(dist, Some(dist.join("404.html")));
    let mut app = Router::new();
    for (at, dir) in &extra.mounts {
        app = app.nest_service(at.trim_end_matches('/'), folder(dir, None));
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
    let app = app
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(axum::middleware::from_fn(only_local_hosts));
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// The status of `GET path` sent to `addr` with `Host: host`.
    fn status(addr: SocketAddr, host: &str, path: &str) -> u16 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status in {reply:?}"))
    }

    #[test]
    fn hosts_by_name_or_address_of_this_machine_only() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:3000",
            "[::1]:80",
            "app.localhost",
            "10.0.0.5",
        ] {
            assert!(local_host(ok), "{ok}");
        }
        for no in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "",
        ] {
            assert!(!local_host(no), "{no}");
        }
    }

    /// A rebinding page's Host is refused; a link inside the folder that leads out of it
    /// serves nothing; the site itself still serves.
    #[cfg(unix)]
    #[test]
    fn serves_only_local_hosts_and_nothing_outside_the_folder() {
        let tmp = std::env::temp_dir().join(format!("xtask-serve-{}", std::process::id()));
        let (site, outside) = (tmp.join("dist"), tmp.join("secret"));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(site.join("index.html"), "home").unwrap();
        std::fs::write(site.join("404.html"), "missing").unwrap();
        std::fs::write(outside.join("key.txt"), "secret").unwrap();
        let _ = std::fs::remove_file(site.join("out"));
        std::os::unix::fs::symlink(&outside, site.join("out")).unwrap();
        std::os::unix::fs::symlink(site.join("index.html"), site.join("same.html")).unwrap_or(());
        let models = Extra::default().mount("/models/", &outside);
        let addr = spawn(&site, "/", &models, Isolation::On).unwrap();
        assert_eq!(status(addr, "127.0.0.1", "/"), 200);
        assert_eq!(status(addr, "localhost", "/index.html"), 200);
        assert_eq!(status(addr, "evil.example", "/"), 421);
        assert_eq!(status(addr, "127.0.0.1", "/out/key.txt"), 404);
        assert_eq!(status(addr, "127.0.0.1", "/out%2Fkey.txt"), 404);
        // A link that stays inside is served; a mount serves its own folder.
        assert_eq!(status(addr, "127.0.0.1", "/same.html"), 200);
        assert_eq!(status(addr, "127.0.0.1", "/models/key.txt"), 200);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
