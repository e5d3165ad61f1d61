//! The votes API against both engines: a real SQLite file and a real PostgreSQL server
//! (Debian's, started here in a temporary data directory on a loopback port, stopped at
//! the end). Every case runs once per engine, named `sqlite::…` and `postgres::…`.
//!
//! Without PostgreSQL installed the `postgres::` cases fail with the way to install it
//! (`cargo xtask install`): they never pass by skipping.

use std::{
    collections::HashMap,
    future::Future,
    io::{BufRead, BufReader},
    net::SocketAddr,
    pin::Pin,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::{anyhow, bail, ensure, Context, Result};
use libtest_mimic::{Arguments, Failed, Trial};
use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use votes::{api, bench, temp_postgres::TempPostgres, ApiConfig, AppState, Store, Tally, Vote};

type Fut = Pin<Box<dyn Future<Output = Result<()>> + Send>>;
type Case = fn(Env) -> Fut;

/// One case's database: a fresh SQLite file or a fresh PostgreSQL database.
#[derive(Clone)]
struct Env {
    url: String,
    engine: &'static str,
    _dir: Arc<tempfile::TempDir>,
}

const CASES: &[(&str, Case)] = &[
    (
        "a_vote_is_counted_and_answered_with_the_visitors_vote",
        |e| Box::pin(a_vote_is_counted(e)),
    ),
    ("voting_again_the_same_day_replaces_the_vote", |e| {
        Box::pin(voting_again_replaces(e))
    }),
    ("one_visitors_concurrent_changes_count_once", |e| {
        Box::pin(concurrent_changes(e))
    }),
    ("one_request_reads_the_split_of_many_items", |e| {
        Box::pin(many_items(e))
    }),
    ("unknown_item_is_404_with_the_reason", |e| {
        Box::pin(unknown_item(e))
    }),
    ("malformed_json_is_400_with_the_reason", |e| {
        Box::pin(malformed_json(e))
    }),
    ("a_vote_other_than_ship_or_skip_is_400", |e| {
        Box::pin(bad_vote(e))
    }),
    (
        "a_body_over_1_kib_is_413_and_a_1_mib_body_changes_nothing",
        |e| Box::pin(too_large(e)),
    ),
    ("wrong_method_is_405_naming_the_allowed_ones", |e| {
        Box::pin(wrong_method(e))
    }),
    ("over_30_votes_a_minute_is_429_with_retry_after", |e| {
        Box::pin(rate_limited(e))
    }),
    (
        "behind_a_loopback_proxy_the_forwarded_address_is_the_client",
        |e| Box::pin(forwarded_for(e)),
    ),
    ("an_sql_looking_item_changes_nothing", |e| {
        Box::pin(sql_looking_item(e))
    }),
    ("no_response_sets_a_cookie", |e| Box::pin(no_cookie(e))),
    ("the_database_holds_no_address_or_user_agent", |e| {
        Box::pin(privacy(e))
    }),
    ("the_live_badge_shows_the_community_split", |e| {
        Box::pin(live_badge(e))
    }),
    ("healthz_answers_with_the_engine", |e| Box::pin(healthz(e))),
    ("cors_lets_only_the_site_origin_read", |e| Box::pin(cors(e))),
    ("votes_survive_a_restart", |e| Box::pin(survive_restart(e))),
    (
        "every_acknowledged_vote_counts_under_load_and_survives_sigkill",
        |e| Box::pin(load_and_sigkill(e)),
    ),
];

fn main() {
    let args = Arguments::from_args();
    let pg = match TempPostgres::start() {
        Ok(pg) => Ok(Arc::new(pg)),
        Err(e) => Err(e.to_string()),
    };
    let seq = Arc::new(AtomicUsize::new(0));
    let mut trials = Vec::new();
    for engine in ["sqlite", "postgres"] {
        for &(name, case) in CASES {
            let (pg, seq) = (pg.clone(), seq.clone());
            trials.push(Trial::test(format!("{engine}::{name}"), move || {
                let rt = tokio::runtime::Runtime::new().map_err(|e| Failed::from(e.to_string()))?;
                rt.block_on(async move {
                    let dir = Arc::new(tempfile::TempDir::new()?);
                    let url = match engine {
                        "sqlite" => format!("sqlite:{}", dir.path().join("votes.db").display()),
                        _ => {
                            let pg = pg.map_err(|e| anyhow!(e))?;
                            let n = seq.fetch_add(1, Ordering::SeqCst);
                            pg.create_database(&format!("case{n}")).await?
                        }
                    };
                    case(Env {
                        url,
                        engine,
                        _dir: dir,
                    })
                    .await
                })
                .map_err(|e| Failed::from(format!("{e:#}")))
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(pg);
    conclusion.exit();
}

// ---------------------------------------------------------------- helpers

/// The API served in this process on a free loopback port.
struct Api {
    base: String,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    http: reqwest::Client,
}

impl Api {
    async fn start(env: &Env, config: ApiConfig) -> Result<Api> {
        let catalog = catalog::Catalog::builtin_static().map_err(|e| anyhow!("{e}"))?;
        let store = Store::open(&env.url).await?;
        let app = api::router(AppState::new(store.clone(), catalog, config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}/", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(api::serve(listener, app, async {
            _ = stopped.await;
        }));
        Ok(Api {
            base,
            store,
            stop: Some(stop),
            task: Some(task),
            http: reqwest::Client::new(),
        })
    }

    async fn unlimited(env: &Env) -> Result<Api> {
        Api::start(env, no_limit()).await
    }

    async fn shutdown(mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await??;
        }
        self.store.close().await;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    async fn vote(&self, agent: &str, item: &str, vote: &str) -> Result<(StatusCode, Value)> {
        self.post_raw(agent, json!({ "item": item, "vote": vote }).to_string())
            .await
    }

    async fn post_raw(
        &self,
        agent: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(StatusCode, Value)> {
        let res = self
            .http
            .post(self.url("api/votes"))
            .header(header::USER_AGENT, agent)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        answer(res).await
    }

    async fn get(&self, agent: &str, path: &str) -> Result<(StatusCode, Value)> {
        let res = self
            .http
            .get(self.url(path))
            .header(header::USER_AGENT, agent)
            .send()
            .await?;
        answer(res).await
    }
}

fn no_limit() -> ApiConfig {
    ApiConfig {
        votes_per_minute: 0,
        ..ApiConfig::default()
    }
}

async fn answer(res: reqwest::Response) -> Result<(StatusCode, Value)> {
    let status = res.status();
    let text = res.text().await?;
    let v = serde_json::from_str(&text).with_context(|| format!("{status}: not JSON: {text:?}"))?;
    Ok((status, v))
}

fn tool() -> String {
    catalog::Catalog::builtin_static().expect("catalog").tools[0]
        .slug
        .clone()
}

fn comparison() -> String {
    catalog::Catalog::builtin_static()
        .expect("catalog")
        .comparisons[0]
        .slug
        .clone()
}

fn tally(v: &Value) -> Result<Tally> {
    serde_json::from_value(v.clone()).with_context(|| format!("not a tally: {v}"))
}

fn error_of(v: &Value) -> String {
    v["error"].as_str().unwrap_or("<no error field>").to_owned()
}

/// Every row of every table, each cell as text (what a privacy audit reads).
async fn dump_every_table(url: &str) -> Result<Vec<(String, Vec<String>)>> {
    let (engine, url) = votes::store::normalize_url(url)?;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await?;
    let list = match engine {
        votes::Engine::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        votes::Engine::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
        }
    };
    let tables: Vec<String> = sqlx::query(list)
        .fetch_all(&mut conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    ensure!(
        tables.iter().any(|t| t == "votes"),
        "no votes table in {tables:?}"
    );
    let mut out = Vec::new();
    for t in tables {
        // Table names come from the catalog of the database itself.
        // Every cell as text: the Any driver decodes neither timestamp type.
        let select = match engine {
            votes::Engine::Sqlite => {
                let cols: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info($1)")
                    .bind(&t)
                    .fetch_all(&mut conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(0).map(|c| format!("quote(\"{c}\")")))
                    .collect::<Result<_, _>>()?;
                format!("SELECT {} FROM \"{t}\"", cols.join(", "))
            }
            votes::Engine::Postgres => format!("SELECT row_to_json(t)::text FROM \"{t}\" t"),
        };
        for row in sqlx::query(&select).fetch_all(&mut conn).await? {
            let cells = (0..row.len())
                .map(|i| {
                    row.try_get::<String, _>(i)
                        .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .or_else(|_| {
                            row.try_get::<Vec<u8>, _>(i)
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                        })
                        .or_else(|_| row.try_get::<bool, _>(i).map(|b| b.to_string()))
                        .or_else(|_| row.try_get::<f64, _>(i).map(|b| b.to_string()))
                        .unwrap_or_else(|_| "<null>".into())
                })
                .collect();
            out.push((t.clone(), cells));
        }
    }
    conn.close().await?;
    Ok(out)
}

async fn vote_rows(url: &str) -> Result<usize> {
    Ok(dump_every_table(url)
        .await?
        .iter()
        .filter(|(t, _)| t == "votes")
        .count())
}

// ---------------------------------------------------------------- cases

async fn a_vote_is_counted(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = tool();
    let (s, v) = api.vote("Visitor A", &item, "ship").await?;
    ensure!(s == StatusCode::OK, "{s} {v}");
    let t = tally(&v)?;
    ensure!(
        t == Tally {
            item: item.clone(),
            ship: 1,
            skip: 0,
            total: 1,
            ship_percent: Some(100),
            your_vote: Some(Vote::Ship)
        },
        "{v}"
    );
    // The same visitor reads their vote back; another visitor sees the split only.
    let (s, v) = api.get("Visitor A", &format!("api/votes/{item}")).await?;
    ensure!(
        s == StatusCode::OK && tally(&v)?.your_vote == Some(Vote::Ship),
        "{s} {v}"
    );
    let (_, v) = api.get("Visitor B", &format!("api/votes/{item}")).await?;
    ensure!(
        v == json!({"item": item, "ship": 1, "skip": 0, "total": 1, "ship_percent": 100, "your_vote": null}),
        "{v}"
    );
    let (_, v) = api.vote("Visitor B", &item, "skip").await?;
    let (_, v2) = api.vote("Visitor C", &item, "skip").await?;
    ensure!(tally(&v)?.total == 2, "{v}");
    ensure!(
        tally(&v2)?
            == Tally {
                item: item.clone(),
                ship: 1,
                skip: 2,
                total: 3,
                ship_percent: Some(33),
                your_vote: Some(Vote::Skip)
            },
        "{v2}"
    );
    api.shutdown().await
}

async fn voting_again_replaces(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = comparison();
    api.vote("Visitor A", &item, "ship").await?;
    api.vote("Visitor B", &item, "ship").await?;
    let (s, v) = api.vote("Visitor A", &item, "skip").await?;
    ensure!(s == StatusCode::OK, "{s} {v}");
    let t = tally(&v)?;
    ensure!(
        (t.ship, t.skip, t.total, t.ship_percent, t.your_vote)
            == (1, 1, 2, Some(50), Some(Vote::Skip)),
        "{v}"
    );
    // The same vote again changes nothing.
    let (_, v) = api.vote("Visitor A", &item, "skip").await?;
    ensure!(tally(&v)?.total == 2, "{v}");
    ensure!(vote_rows(&env.url).await? == 2);
    api.shutdown().await
}

async fn concurrent_changes(env: Env) -> Result<()> {
    let api = Arc::new(Api::unlimited(&env).await?);
    let item = tool();
    // 40 votes of one visitor at once (many land in one batch) beside 10 other visitors.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (api, item) = (api.clone(), item.clone());
        tasks.push(tokio::spawn(async move {
            let (agent, vote) = if i < 40 {
                (
                    "Flipper".to_string(),
                    if i % 2 == 0 { "ship" } else { "skip" },
                )
            } else {
                (format!("Other{i}"), "ship")
            };
            api.vote(&agent, &item, vote).await
        }));
    }
    for t in tasks {
        let (s, v) = t.await??;
        ensure!(s == StatusCode::OK, "{s} {v}");
    }
    let (_, v) = api.get("Flipper", &format!("api/votes/{item}")).await?;
    let t = tally(&v)?;
    let mine = t.your_vote.context("the visitor's vote is stored")?;
    let expect_ship = 10 + u32::from(mine == Vote::Ship);
    ensure!((t.ship, t.total) == (expect_ship, 11), "{v}");
    ensure!(vote_rows(&env.url).await? == 11);
    Arc::into_inner(api)
        .context("api still shared")?
        .shutdown()
        .await
}

async fn many_items(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let (a, b) = (tool(), comparison());
    api.vote("V", &b, "skip").await?;
    let (s, v) = api.get("V", &format!("api/votes?items={a},{b}")).await?;
    ensure!(s == StatusCode::OK, "{s} {v}");
    let items: Vec<Tally> = serde_json::from_value(v["items"].clone())?;
    ensure!(
        items.len() == 2 && items[0].item == a && items[1].item == b,
        "{v}"
    );
    ensure!(
        items[0].total == 0 && items[0].ship_percent.is_none() && items[0].your_vote.is_none(),
        "{v}"
    );
    ensure!(
        items[1].skip == 1 && items[1].your_vote == Some(Vote::Skip),
        "{v}"
    );
    let (s, v) = api.get("V", "api/votes").await?;
    ensure!(
        s == StatusCode::BAD_REQUEST && error_of(&v).contains("missing ?items="),
        "{s} {v}"
    );
    let (s, v) = api.get("V", &format!("api/votes?items={a},nope")).await?;
    ensure!(
        s == StatusCode::NOT_FOUND && error_of(&v).contains("\"nope\""),
        "{s} {v}"
    );
    api.shutdown().await
}

async fn unknown_item(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let (s, v) = api.vote("V", "not-a-tool", "ship").await?;
    ensure!(s == StatusCode::NOT_FOUND, "{s} {v}");
    ensure!(error_of(&v) == "unknown item \"not-a-tool\": an item is a tool slug or a compare slug (a-vs-b, alphabetical) of the catalog", "{v}");
    let (s, v) = api.get("V", "api/votes/not-a-tool").await?;
    ensure!(
        s == StatusCode::NOT_FOUND && error_of(&v).starts_with("unknown item \"not-a-tool\""),
        "{s} {v}"
    );
    // A comparison in the reverse order is not the item (pages vote on the canonical slug).
    let cmp = catalog::Catalog::builtin_static()
        .map_err(|e| anyhow!("{e}"))?
        .comparisons[0]
        .reversed_slug();
    let (s, _) = api.vote("V", &cmp, "ship").await?;
    ensure!(s == StatusCode::NOT_FOUND);
    let (s, v) = api.get("V", "api/nothing-here").await?;
    ensure!(
        s == StatusCode::NOT_FOUND && error_of(&v) == "no such endpoint: GET /api/nothing-here",
        "{s} {v}"
    );
    ensure!(vote_rows(&env.url).await? == 0);
    api.shutdown().await
}

async fn malformed_json(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    for (body, says) in [
        ("{\"item\": \"x\", \"vote\": ", "EOF while parsing"),
        ("not json", "expected ident"),
        ("{\"vote\": \"ship\"}", "missing field `item`"),
        ("[]", "invalid length 0"),
        ("", "EOF while parsing"),
    ] {
        let (s, v) = api.post_raw("V", body).await?;
        ensure!(s == StatusCode::BAD_REQUEST, "{body:?}: {s} {v}");
        let e = error_of(&v);
        ensure!(
            e.starts_with("malformed JSON: ") && e.contains(says),
            "{body:?}: {e}"
        );
    }
    ensure!(vote_rows(&env.url).await? == 0);
    api.shutdown().await
}

async fn bad_vote(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = tool();
    for (vote, shown) in [
        (json!("maybe"), "\"maybe\""),
        (json!("SHIP"), "\"SHIP\""),
        (json!(1), "1"),
        (json!(null), "null"),
    ] {
        let (s, v) = api
            .post_raw("V", json!({ "item": item, "vote": vote }).to_string())
            .await?;
        ensure!(s == StatusCode::BAD_REQUEST, "{vote}: {s} {v}");
        ensure!(
            error_of(&v) == format!("vote must be \"ship\" or \"skip\", not {shown}"),
            "{v}"
        );
    }
    ensure!(vote_rows(&env.url).await? == 0);
    api.shutdown().await
}

async fn too_large(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = tool();
    api.vote("V", &item, "ship").await?;
    let before = dump_every_table(&env.url).await?;
    // 1025 bytes of otherwise valid JSON: refused on size, not content.
    let pad = " ".repeat(1025 - json!({ "item": item, "vote": "skip" }).to_string().len());
    let body = format!("{}{pad}", json!({ "item": item, "vote": "skip" }));
    ensure!(body.len() == 1025);
    let (s, v) = api.post_raw("V", body).await?;
    ensure!(
        s == StatusCode::PAYLOAD_TOO_LARGE && error_of(&v) == "request body over 1024 bytes",
        "{s} {v}"
    );
    // A 1 MiB body that would be a vote, sent chunked (no Content-Length to check first).
    let big = format!(
        "{{\"item\": \"{item}\", \"vote\": \"skip\", \"x\": \"{}\"}}",
        "a".repeat(1 << 20)
    );
    let status = post_chunked(&api.base, big.as_bytes()).await?;
    ensure!(status == 413, "chunked 1 MiB: {status}");
    ensure!(
        dump_every_table(&env.url).await? == before,
        "the database changed"
    );
    api.shutdown().await
}

/// POSTs `body` to `/api/votes` with `Transfer-Encoding: chunked` (64 KiB chunks) on a raw
/// connection and returns the status code. The server may answer and close before the
/// whole body is sent: a write error after the answer is expected.
async fn post_chunked(base: &str, body: &[u8]) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut sock = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /api/votes HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await?;
    for chunk in body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if sock.write_all(&framed).await.is_err() {
            break;
        }
    }
    _ = sock.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    _ = sock.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no HTTP answer: {text:?}"))
}

async fn wrong_method(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = tool();
    for (method, path, allow) in [
        (
            reqwest::Method::DELETE,
            "api/votes".to_string(),
            "GET,HEAD,POST",
        ),
        (
            reqwest::Method::POST,
            format!("api/votes/{item}"),
            "GET,HEAD",
        ),
        (reqwest::Method::PUT, "healthz".to_string(), "GET,HEAD"),
    ] {
        let res = api
            .http
            .request(method.clone(), api.url(&path))
            .send()
            .await?;
        let got_allow = res
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .replace(' ', "");
        let (s, v) = answer(res).await?;
        ensure!(s == StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {s}");
        ensure!(got_allow == allow, "{method} {path}: Allow {got_allow:?}");
        ensure!(
            error_of(&v).starts_with("method not allowed here: use GET"),
            "{v}"
        );
    }
    api.shutdown().await
}

async fn rate_limited(env: Env) -> Result<()> {
    let api = Api::start(&env, ApiConfig::default()).await?;
    let item = tool();
    // 30 votes from one address (different visitors on it) pass, the 31st waits 2 s.
    for i in 0..30 {
        let (s, v) = api.vote(&format!("V{i}"), &item, "ship").await?;
        ensure!(s == StatusCode::OK, "vote {i}: {s} {v}");
    }
    let res = api
        .http
        .post(api.url("api/votes"))
        .header(header::USER_AGENT, "V31")
        .json(&json!({ "item": item, "vote": "ship" }))
        .send()
        .await?;
    let retry = res
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (s, v) = answer(res).await?;
    ensure!(s == StatusCode::TOO_MANY_REQUESTS, "{s} {v}");
    ensure!(retry.as_deref() == Some("2"), "Retry-After {retry:?}");
    ensure!(
        error_of(&v) == "too many votes from this address (30 a minute): try again in 2 s",
        "{v}"
    );
    // Reading is not limited, and the refused vote was not counted.
    let (s, v) = api.get("V31", &format!("api/votes/{item}")).await?;
    ensure!(
        s == StatusCode::OK && tally(&v)?.total == 30 && tally(&v)?.your_vote.is_none(),
        "{v}"
    );
    api.shutdown().await
}

async fn forwarded_for(env: Env) -> Result<()> {
    let item = tool();
    for trust in [true, false] {
        let api = Api::start(
            &env,
            ApiConfig {
                votes_per_minute: 1,
                trust_forwarded_for: trust,
                ..ApiConfig::default()
            },
        )
        .await?;
        let mut statuses = Vec::new();
        for forwarded in ["192.0.2.1", "192.0.2.1", "198.51.100.7, 192.0.2.2"] {
            let res = api
                .http
                .post(api.url("api/votes"))
                .header(header::USER_AGENT, format!("{trust}"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({ "item": item, "vote": "ship" }))
                .send()
                .await?;
            statuses.push(res.status().as_u16());
        }
        // Trusted: one vote a minute for each forwarded (last-hop) address; not trusted:
        // every request is the proxy's own address.
        let expected = if trust {
            [200, 429, 200]
        } else {
            [200, 429, 429]
        };
        ensure!(statuses == expected, "trust {trust}: {statuses:?}");
        api.shutdown().await?;
    }
    Ok(())
}

async fn sql_looking_item(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    api.vote("V", &tool(), "ship").await?;
    let before = dump_every_table(&env.url).await?;
    for item in [
        "x'); DROP TABLE votes; --",
        "' OR '1'='1",
        "x\"; DELETE FROM votes; --",
    ] {
        let (s, v) = api.vote("V", item, "skip").await?;
        ensure!(s == StatusCode::NOT_FOUND, "{item}: {s} {v}");
        let path = format!(
            "api/votes?items={}",
            item.replace(' ', "%20")
                .replace('\'', "%27")
                .replace('"', "%22")
        );
        let (s, _) = api.get("V", &path).await?;
        ensure!(
            s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            "{item}: {s}"
        );
    }
    ensure!(
        dump_every_table(&env.url).await? == before,
        "the database changed"
    );
    api.shutdown().await
}

async fn no_cookie(env: Env) -> Result<()> {
    let api = Api::start(
        &env,
        ApiConfig {
            votes_per_minute: 1,
            ..ApiConfig::default()
        },
    )
    .await?;
    let item = tool();
    let h = &api.http;
    let requests = vec![
        h.post(api.url("api/votes"))
            .json(&json!({ "item": item, "vote": "ship" })), // 200
        h.post(api.url("api/votes"))
            .json(&json!({ "item": item, "vote": "ship" })), // 429
        h.post(api.url("api/votes")).body("{"), // 400
        h.post(api.url("api/votes"))
            .json(&json!({ "item": "nope", "vote": "ship" })), // 404
        h.post(api.url("api/votes")).body("x".repeat(2000)), // 413
        h.delete(api.url("api/votes")),         // 405
        h.get(api.url(&format!("api/votes/{item}"))),
        h.get(api.url(&format!("api/votes?items={item}"))),
        h.get(api.url(&format!("api/badge/{item}.svg"))),
        h.get(api.url("healthz")),
        h.get(api.url("nowhere")),
    ];
    let mut statuses = Vec::new();
    for r in requests {
        let res = r.send().await?;
        statuses.push(res.status().as_u16());
        ensure!(
            res.headers().get(header::SET_COOKIE).is_none(),
            "{} sets a cookie",
            res.url()
        );
    }
    ensure!(
        statuses == [200, 429, 400, 404, 413, 405, 200, 200, 200, 200, 404],
        "{statuses:?}"
    );
    api.shutdown().await
}

async fn privacy(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let agent = "PrivacyProbe/7.7 (UniqueAgentMarker)";
    api.vote(agent, &tool(), "ship").await?;
    api.vote(agent, &comparison(), "skip").await?;
    let rows = dump_every_table(&env.url).await?;
    ensure!(
        rows.iter().filter(|(t, _)| t == "votes").count() == 2,
        "{rows:?}"
    );
    for (table, cells) in &rows {
        for cell in cells {
            for secret in [
                "127.0.0.1",
                "PrivacyProbe",
                "UniqueAgentMarker",
                "7f000001",
                "::1",
            ] {
                ensure!(
                    !cell.contains(secret),
                    "table {table} holds {secret:?}: {cell:?}"
                );
            }
        }
    }
    api.shutdown().await
}

async fn live_badge(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = tool();
    for (i, v) in ["ship", "ship", "skip"].iter().enumerate() {
        api.vote(&format!("V{i}"), &item, v).await?;
    }
    for suffix in ["", "-dark", "-flat", "-flat-dark"] {
        let res = api
            .http
            .get(api.url(&format!("api/badge/{item}{suffix}.svg")))
            .send()
            .await?;
        ensure!(res.status() == StatusCode::OK, "{suffix}: {}", res.status());
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        ensure!(ct.starts_with("image/svg+xml"), "{ct}");
        let svg = res.text().await?;
        let doc = roxmltree::Document::parse(&svg)
            .with_context(|| format!("{suffix}: not well-formed"))?;
        let label = doc.root_element().attribute("aria-label").unwrap_or("");
        ensure!(
            label.contains("community 67% ship (2 ship / 1 skip)"),
            "{suffix}: {label}"
        );
    }
    let (s, v) = api.get("V", "api/badge/nope.svg").await?;
    ensure!(
        s == StatusCode::NOT_FOUND
            && error_of(&v).starts_with("no such endpoint: no badge \"nope.svg\""),
        "{s} {v}"
    );
    api.shutdown().await
}

async fn healthz(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let (s, v) = api.get("V", "healthz").await?;
    ensure!(
        s == StatusCode::OK && v == json!({"status": "ok", "database": env.engine}),
        "{s} {v}"
    );
    api.shutdown().await
}

async fn cors(env: Env) -> Result<()> {
    let site = "https://site.example";
    let api = Api::start(
        &env,
        ApiConfig {
            allow_origin: Some(site.parse()?),
            votes_per_minute: 0,
            ..ApiConfig::default()
        },
    )
    .await?;
    for (origin, allowed) in [(site, true), ("https://evil.example", false)] {
        let res = api
            .http
            .request(reqwest::Method::OPTIONS, api.url("api/votes"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .send()
            .await?;
        let acao = res
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .cloned();
        ensure!(acao.is_some() == allowed, "{origin}: {acao:?}");
        if allowed {
            ensure!(acao.as_ref().and_then(|v| v.to_str().ok()) == Some(site));
        }
        let res = api
            .http
            .get(api.url(&format!("api/votes/{}", tool())))
            .header(header::ORIGIN, origin)
            .send()
            .await?;
        ensure!(
            res.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_some()
                == allowed,
            "{origin} GET"
        );
    }
    api.shutdown().await
}

async fn survive_restart(env: Env) -> Result<()> {
    let api = Api::unlimited(&env).await?;
    let item = tool();
    api.vote("A", &item, "ship").await?;
    api.vote("B", &item, "skip").await?;
    api.shutdown().await?;
    let api = Api::unlimited(&env).await?;
    let (_, v) = api.get("A", &format!("api/votes/{item}")).await?;
    let t = tally(&v)?;
    // The same visitor key after the restart: the HMAC key was kept in the database.
    ensure!(
        (t.ship, t.skip, t.your_vote) == (1, 1, Some(Vote::Ship)),
        "{v}"
    );
    api.shutdown().await
}

/// The `votes serve` binary as a child process on a free port.
struct Child_ {
    child: Child,
    base: String,
}

fn spawn_server(url: &str) -> Result<Child_> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_votes"))
        .args([
            "serve",
            "--database",
            url,
            "--listen",
            "127.0.0.1:0",
            "--votes-per-minute",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .context("the server exited before listening")??;
    let addr: SocketAddr = first
        .strip_prefix("votes: listening on http://")
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .with_context(|| format!("unexpected first line {first:?}"))?;
    // Keep reading so the child never writes into a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Child_ {
        child,
        base: format!("http://{addr}/"),
    })
}

async fn load_and_sigkill(env: Env) -> Result<()> {
    let items: Vec<String> = {
        let c = catalog::Catalog::builtin_static().map_err(|e| anyhow!("{e}"))?;
        c.tools
            .iter()
            .map(|t| t.slug.clone())
            .chain(c.comparisons.iter().map(|c| c.slug.clone()))
            .collect()
    };
    let mut server = spawn_server(&env.url)?;

    // 1. 64 clients, 4,000 votes over distinct visitors: every one acknowledged and counted.
    let plan = bench::plan(&items, 4000, "load");
    let o = bench::burst(&server.base, 64, plan.clone(), Arc::default()).await;
    ensure!(
        o.failed.is_empty(),
        "{} failed, first {:?}",
        o.failed.len(),
        o.failed.first()
    );
    ensure!(o.acked.len() == 4000);
    let mut expected: HashMap<String, (u32, u32)> = HashMap::new();
    for p in &plan {
        let e = expected.entry(p.item.clone()).or_default();
        match p.vote {
            Vote::Ship => e.0 += 1,
            Vote::Skip => e.1 += 1,
        }
    }
    let counts = read_counts(&server.base, &items).await?;
    ensure!(counts == expected, "counted {counts:?}, cast {expected:?}");

    // 2. A second burst, SIGKILL once 1,000 of it are acknowledged.
    let plan2 = bench::plan(&items, 4000, "burst2");
    let acked = Arc::new(AtomicUsize::new(0));
    let base = server.base.clone();
    let (plan2_, acked_) = (plan2.clone(), acked.clone());
    let burst = tokio::spawn(async move { bench::burst(&base, 64, plan2_, acked_).await });
    while acked.load(Ordering::SeqCst) < 1000 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.child.kill()?; // SIGKILL
    server.child.wait()?;
    let o2 = burst.await?;
    ensure!(
        o2.acked.len() >= 1000 && !o2.failed.is_empty(),
        "acked {} failed {}",
        o2.acked.len(),
        o2.failed.len()
    );

    // 3. Restarted on the same database: each acknowledged vote is there, as its visitor
    // reads it back, and the counts are at least the acknowledged ones.
    let server = spawn_server(&env.url)?;
    let http = reqwest::Client::new();
    for (p, _, _) in &o2.acked {
        let res = http
            .get(format!("{}api/votes/{}", server.base, p.item))
            .header(header::USER_AGENT, &p.agent)
            .send()
            .await?;
        let t: Tally = res.json().await?;
        ensure!(
            t.your_vote == Some(p.vote),
            "{} lost after SIGKILL: {t:?}",
            p.agent
        );
    }
    let after = read_counts(&server.base, &items).await?;
    for item in &items {
        let (s1, k1) = expected.get(item).copied().unwrap_or_default();
        let acked_here = o2.acked.iter().filter(|(p, _, _)| &p.item == item);
        let sent_here = plan2.iter().filter(|p| &p.item == item).count() as u32;
        let (sa, ka) = acked_here.fold((0, 0), |(s, k), (p, _, _)| match p.vote {
            Vote::Ship => (s + 1, k),
            Vote::Skip => (s, k + 1),
        });
        let (s, k) = after.get(item).copied().unwrap_or_default();
        ensure!(
            s >= s1 + sa && k >= k1 + ka,
            "{item}: {s}/{k} < {}/{}",
            s1 + sa,
            k1 + ka
        );
        ensure!(
            s + k <= s1 + k1 + sent_here,
            "{item}: more votes than were sent"
        );
    }
    let mut server = server;
    server.child.kill()?;
    server.child.wait()?;
    Ok(())
}

async fn read_counts(base: &str, items: &[String]) -> Result<HashMap<String, (u32, u32)>> {
    let res = reqwest::get(format!("{base}api/votes?items={}", items.join(","))).await?;
    let (s, v) = answer(res).await?;
    if s != StatusCode::OK {
        bail!("{s} {v}");
    }
    let tallies: Vec<Tally> = serde_json::from_value(v["items"].clone())?;
    Ok(tallies
        .into_iter()
        .filter(|t| t.total > 0)
        .map(|t| (t.item, (t.ship, t.skip)))
        .collect())
}
