//! The votes service beside the site: `cargo xtask serve` runs `votes serve` (crates/votes)
//! as a child process and forwards the site's `api/` and `healthz` paths to it, so pages
//! and API share one origin; `bench-votes` runs `votes bench` on both engines.
//!
//! xtask depends on no crate of the workspace: it runs the `votes` binary and speaks HTTP.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use anyhow::{bail, Context, Result};
use axum::{
    body::Body,
    extract::Request,
    http::{uri::PathAndQuery, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::any,
    Router,
};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

use crate::{cargo, serve::Extra, show};

/// Where `cargo xtask serve` keeps the votes when no `--database` is given (README).
pub fn default_database(root: &Path) -> PathBuf {
    root.join("target").join("votes").join("votes.sqlite")
}

/// The environment variable through which `dist` tells the pre-renderer where the votes
/// API is (`<meta name="votes-api">` on every page); unset, pages stay static.
pub const VOTES_API_ENV: &str = "XTASK_VOTES_API";

/// Sets (or clears) what the pre-renderer that `dist` runs next reads from [`VOTES_API_ENV`]:
/// the votes service's root, an absolute URL or a path on the site's own origin (`/`),
/// always ending in `/`.
pub fn set_votes_api(url: Option<&str>) -> Result<()> {
    let Some(url) = url else {
        std::env::remove_var(VOTES_API_ENV);
        return Ok(());
    };
    let absolute = url.starts_with("http://") || url.starts_with("https://");
    if !(absolute || url.starts_with('/')) {
        bail!("--votes-api {url:?}: must start with http://, https:// or / (the site's origin)");
    }
    if url.contains(['?', '#', ' ', '"', '\'', '<', '>']) {
        bail!("--votes-api {url:?}: must be a plain URL without query, fragment, spaces or quotes");
    }
    let mut url = url.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    std::env::set_var(VOTES_API_ENV, url);
    Ok(())
}

/// A running `votes serve`; stopped (SIGTERM, then waited for) when dropped.
pub struct VotesServer {
    child: Child,
    pub addr: SocketAddr,
}

impl VotesServer {
    /// Builds and starts `votes serve --database <database>` on a free loopback port and
    /// waits until it listens. `votes_per_minute`: its rate limit (0 = none).
    pub fn start(database: &str, votes_per_minute: u32) -> Result<VotesServer> {
        let mut cmd = cargo();
        // Not --quiet: the first start compiles the service (minutes), which cargo shows.
        cmd.args(["run", "--release", "--package", "votes", "--"])
            .args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
            .args(["--votes-per-minute", &votes_per_minute.to_string()])
            .stdout(Stdio::piped());
        eprintln!("xtask: $ {}", show(&cmd));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("could not start `{}`", show(&cmd)))?;
        let stdout = child.stdout.take().context("votes: no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let Some(first) = lines.next().transpose()? else {
            let status = child.wait()?;
            bail!("the votes service exited before listening ({status})");
        };
        let addr = first
            .strip_prefix("votes: listening on http://")
            .and_then(|r| r.split('/').next())
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("votes: unexpected first line {first:?}"))?;
        eprintln!("xtask: {first}");
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                println!("{line}");
            }
        });
        Ok(VotesServer { child, addr })
    }
}

impl Drop for VotesServer {
    fn drop(&mut self) {
        // SIGTERM: the service closes its database cleanly (SQLite checkpoints its WAL).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `extra` with a votes service on a fresh SQLite file (in the temp dir) behind it, for the
/// browser tests; the service stops when the returned [`VotesServer`] is dropped.
pub fn with_test_server(mut extra: Extra) -> Result<(Extra, VotesServer)> {
    let file = std::env::temp_dir().join(format!("xtask-votes-{}.sqlite", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let mut p = file.clone().into_os_string();
        p.push(suffix);
        _ = std::fs::remove_file(p);
    }
    let server = VotesServer::start(&format!("sqlite:{}", file.display()), 30)?;
    extra.votes = Some(server.addr);
    Ok((extra, server))
}

/// `app` with `<base>api/…` and `<base>healthz` forwarded to the votes service at
/// `upstream` (as `/api/…`, `/healthz`): the site and the API on one origin.
pub fn proxy_routes(app: Router, base: &str, upstream: SocketAddr) -> Router {
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build_http();
    let strip = base.trim_end_matches('/').len();
    let forward = move |req: Request| {
        let client = client.clone();
        async move { forward(client, upstream, strip, req).await }
    };
    app.route(&format!("{base}api/{{*rest}}"), any(forward.clone()))
        .route(&format!("{base}healthz"), any(forward))
}

async fn forward(
    client: Client<HttpConnector, Body>,
    upstream: SocketAddr,
    strip: usize,
    mut req: Request,
) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(PathAndQuery::as_str)
        .unwrap_or("/");
    let target = format!("http://{upstream}{}", &path[strip.min(path.len())..]);
    match target.parse::<Uri>() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
    match client.request(req).await {
        Ok(res) => res.map(Body::new),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "application/json")],
            serde_json::json!({ "error": format!("the votes service did not answer: {e}") })
                .to_string(),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the variable is process-wide.
    #[test]
    fn votes_api_takes_urls_and_paths_and_refuses_the_rest() {
        set_votes_api(Some("https://votes.example.org")).unwrap();
        assert_eq!(
            std::env::var(VOTES_API_ENV).unwrap(),
            "https://votes.example.org/"
        );
        set_votes_api(Some("/sub/")).unwrap();
        assert_eq!(std::env::var(VOTES_API_ENV).unwrap(), "/sub/");
        let e = set_votes_api(Some("votes.example.org"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("must start with http://, https:// or /"), "{e}");
        let e = set_votes_api(Some("/x\"><script>"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("plain URL"), "{e}");
        set_votes_api(None).unwrap();
        assert!(std::env::var(VOTES_API_ENV).is_err());
    }

    /// An upstream that answers with the method, path and query it was asked for.
    async fn echo() -> SocketAddr {
        let app = Router::new()
            .fallback(|req: Request| async move { format!("{} {}", req.method(), req.uri()) });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    }

    async fn get(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out[9..12].parse().unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    #[tokio::test]
    async fn the_sites_api_paths_reach_the_votes_service_under_a_sub_path_too() {
        let upstream = echo().await;
        let dist = std::env::temp_dir().join(format!("xtask-proxy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("404.html"), "not found").unwrap();
        std::fs::write(dist.join("index.html"), "home").unwrap();
        for base in ["/", "/sub/"] {
            let extra = Extra {
                votes: Some(upstream),
                ..Extra::default()
            };
            let app = crate::serve::router(&dist, base, &extra);
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(l, app).await });
            let at = |p: &str| format!("{base}{p}");
            assert_eq!(
                get(addr, "POST", &at("api/votes")).await,
                (200, "POST /api/votes".into())
            );
            assert_eq!(
                get(addr, "GET", &at("api/votes?items=a,b")).await,
                (200, "GET /api/votes?items=a,b".into())
            );
            assert_eq!(
                get(addr, "GET", &at("healthz")).await,
                (200, "GET /healthz".into())
            );
            // The site itself is still the site.
            assert_eq!(get(addr, "GET", &at("")).await, (200, "home".into()));
        }
        _ = std::fs::remove_dir_all(&dist);
    }
}

/// `cargo xtask bench-votes`: `votes bench` on SQLite, then on a temporary PostgreSQL.
pub fn bench(clients: usize, votes: usize) -> Result<()> {
    for engine in ["sqlite", "postgres"] {
        crate::timed(&format!("bench-votes: {engine}"), || {
            crate::run(
                cargo()
                    .args(["run", "--release", "--quiet", "--package", "votes", "--"])
                    .args(["bench", "--engine", engine])
                    .args(["--clients", &clients.to_string()])
                    .args(["--votes", &votes.to_string()]),
            )
        })?;
    }
    Ok(())
}
