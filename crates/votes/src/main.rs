//! `votes`: the community votes service, and its loopback benchmark.
//!
//! - `votes serve --database URL [--listen ADDR] [--allow-origin ORIGIN]`: the API alone
//!   (`cargo xtask serve` runs it behind the site on one origin).
//! - `votes bench --engine sqlite|postgres`: a fresh database (a temporary SQLite file or a
//!   temporary PostgreSQL server), the API on a loopback port, N clients casting votes;
//!   prints votes/s and p50/p99 latency as one JSON line.

use std::{
    net::SocketAddr,
    sync::{atomic::AtomicUsize, Arc},
};

use anyhow::{bail, Context, Result};
use axum::http::HeaderValue;
use clap::{Parser, Subcommand};
use votes::{api, bench, temp_postgres::TempPostgres, ApiConfig, AppState, Store};

#[derive(Parser)]
#[command(
    name = "votes",
    about = "The community votes service of the comparison site"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the votes API until Ctrl-C or SIGTERM.
    Serve {
        /// `sqlite:PATH` (or a bare file path; created when missing) or `postgres://…`.
        #[arg(long, default_value = "sqlite:votes.db")]
        database: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// The site's origin (e.g. https://example.org) when the pages live elsewhere: the
        /// one origin CORS allows. Without it only same-origin pages can read the answers.
        #[arg(long)]
        allow_origin: Option<String>,
        /// Votes a minute from one client address (0: no limit).
        #[arg(long, default_value_t = 30)]
        votes_per_minute: u32,
        /// Behind a reverse proxy on this machine: take the client address from
        /// X-Forwarded-For (only when the peer is on loopback).
        #[arg(long)]
        trust_forwarded_for: bool,
    },
    /// Benchmark the API on loopback against a fresh database; prints one JSON line.
    Bench {
        /// sqlite (a temporary file) or postgres (a temporary server; needs Debian's
        /// postgresql package).
        #[arg(long, default_value = "sqlite")]
        engine: String,
        /// Concurrent clients, each on its own connection.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Votes in the measured burst (after a warm-up of one vote per client).
        #[arg(long, default_value_t = 20_000)]
        votes: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new()?;
    match cli.cmd {
        Cmd::Serve {
            database,
            listen,
            allow_origin,
            votes_per_minute,
            trust_forwarded_for,
        } => rt.block_on(serve(
            &database,
            listen,
            ApiConfig {
                allow_origin: allow_origin.map(|o| parse_origin(&o)).transpose()?,
                votes_per_minute,
                trust_forwarded_for,
            },
        )),
        Cmd::Bench {
            engine,
            clients,
            votes,
        } => {
            let pg;
            let tmp = tempfile::TempDir::new()?;
            let url = match engine.as_str() {
                "sqlite" => format!("sqlite:{}", tmp.path().join("bench.db").display()),
                "postgres" => {
                    pg = TempPostgres::start()?;
                    rt.block_on(pg.create_database("bench"))?
                }
                other => bail!("--engine {other:?}: sqlite or postgres"),
            };
            let report = rt.block_on(run_bench(&url, clients, votes))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

/// `https://example.org/sub/` → `https://example.org` (CORS compares origins only).
fn parse_origin(s: &str) -> Result<HeaderValue> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .with_context(|| format!("--allow-origin {s:?}: must start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        bail!("--allow-origin {s:?}: has no host");
    }
    let origin = format!("{}{host}", &s[..s.len() - rest.len()]);
    HeaderValue::from_str(&origin).with_context(|| format!("--allow-origin {s:?}"))
}

async fn serve(database: &str, listen: SocketAddr, config: ApiConfig) -> Result<()> {
    let catalog = catalog::Catalog::builtin_static()
        .map_err(|e| anyhow::anyhow!("the built-in catalog: {e}"))?;
    let store = Store::open(database)
        .await
        .with_context(|| format!("opening {database}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // One line a supervisor (xtask serve, the tests) can wait for.
    println!(
        "votes: listening on http://{addr}/ ({} database)",
        store.engine().name()
    );
    let app = api::router(AppState::new(store.clone(), catalog, config));
    api::serve(listener, app, shutdown_signal())
        .await
        .context("server failed")?;
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

async fn run_bench(url: &str, clients: usize, votes: usize) -> Result<bench::Report> {
    let catalog = catalog::Catalog::builtin_static()
        .map_err(|e| anyhow::anyhow!("the built-in catalog: {e}"))?;
    let store = Store::open(url).await?;
    let engine = store.engine().name();
    let config = ApiConfig {
        votes_per_minute: 0,
        ..ApiConfig::default()
    };
    let app = api::router(AppState::new(store.clone(), catalog, config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, app, async {
        _ = stopped.await;
    }));
    let items: Vec<String> = catalog.tools.iter().map(|t| t.slug.clone()).collect();
    // Warm-up: every client's connection open, every pool connection made.
    let warm = bench::burst(
        &base,
        clients,
        bench::plan(&items, clients, "warm"),
        Arc::default(),
    )
    .await;
    if !warm.failed.is_empty() {
        bail!("warm-up votes failed: {:?}", warm.failed.first());
    }
    let o = bench::burst(
        &base,
        clients,
        bench::plan(&items, votes, "bench"),
        Arc::new(AtomicUsize::new(0)),
    )
    .await;
    _ = stop.send(());
    server.await??;
    store.close().await;
    if let Some((_, e)) = o.failed.first() {
        bail!("{} of {votes} votes failed, first: {e}", o.failed.len());
    }
    Ok(bench::Report::new(engine, clients, &o))
}
