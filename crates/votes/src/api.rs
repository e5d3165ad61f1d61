//! The HTTP API (axum): `POST /api/votes`, `GET /api/votes/<item>`,
//! `GET /api/votes?items=a,b`, `GET /api/badge/<slug>[-dark|-flat|-flat-dark].svg`,
//! `GET /healthz`. README.md's "Votes API" gives the JSON shapes; keep them stable.
//!
//! Every error is `{"error": "<reason>"}` with its status: 400 malformed JSON or a vote
//! other than ship/skip, 404 an item the catalog does not have, 405 a wrong method, 413 a
//! body over 1 KiB, 429 over the per-address rate limit (with `Retry-After`). No response
//! sets a cookie; API responses are `Cache-Control: no-store` (they carry the visitor's
//! own vote). CORS allows one origin, the site's, when the site lives elsewhere.

use std::{
    collections::HashSet,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use catalog::{BadgeVariant, Catalog};
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    limit::RateLimit,
    visitor::{utc_day, visitor_key},
    Error, Store, Tally, Vote,
};

/// The largest request body accepted (`{"item": …, "vote": …}` needs well under 200 bytes).
pub const MAX_BODY: usize = 1024;
/// The most items one `GET /api/votes?items=` may ask for (a page asks for at most three).
pub const MAX_ITEMS: usize = 64;

/// How the API behaves; see `votes serve --help`.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The site's origin (`https://example.org`) when it is not this server's: the only
    /// origin CORS lets read the answers. `None`: same-origin pages only.
    pub allow_origin: Option<HeaderValue>,
    /// Votes a minute from one address; 0 turns the limit off (load tests, benchmarks).
    pub votes_per_minute: u32,
    /// Take the client address from the last `X-Forwarded-For` entry when the peer is on
    /// loopback (a reverse proxy on the same machine).
    pub trust_forwarded_for: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            allow_origin: None,
            votes_per_minute: 30,
            trust_forwarded_for: false,
        }
    }
}

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Store,
    catalog: &'static Catalog,
    items: HashSet<String>,
    limit: RateLimit,
    config: ApiConfig,
}

impl AppState {
    pub fn new(store: Store, catalog: &'static Catalog, config: ApiConfig) -> AppState {
        let items = catalog
            .tools
            .iter()
            .map(|t| t.slug.clone())
            .chain(catalog.comparisons.iter().map(|c| c.slug.clone()))
            .collect();
        AppState(Arc::new(Inner {
            store,
            catalog,
            items,
            limit: RateLimit::new(config.votes_per_minute),
            config,
        }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    fn known(&self, item: &str) -> Result<(), ApiError> {
        if self.0.items.contains(item) {
            Ok(())
        } else {
            Err(ApiError::UnknownItem(item.to_owned()))
        }
    }

    /// The client's address: the peer's, or a loopback proxy's `X-Forwarded-For`.
    fn client_addr(&self, req: &Request) -> Result<IpAddr, ApiError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or(ApiError::NoPeerAddress)?;
        if self.0.config.trust_forwarded_for && peer.is_loopback() {
            let forwarded = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .last();
            if let Some(addr) = forwarded {
                return Ok(addr);
            }
        }
        Ok(peer)
    }

    fn key(&self, addr: IpAddr, headers: &HeaderMap, item: &str) -> String {
        let ua = headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        visitor_key(self.0.store.secret(), addr, &ua, item, utc_day(now))
    }
}

/// A request the API refuses, or a failure behind it; the response is
/// `{"error": "<this message>"}` with [`ApiError::status`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "unknown item {0:?}: an item is a tool slug or a compare slug (a-vs-b, alphabetical) of the catalog"
    )]
    UnknownItem(String),
    #[error("malformed JSON: {0}; send {{\"item\": \"<slug>\", \"vote\": \"ship\" | \"skip\"}}")]
    BadJson(String),
    #[error("vote must be \"ship\" or \"skip\", not {0}")]
    BadVote(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("request body over {MAX_BODY} bytes")]
    TooLarge,
    #[error(
        "too many votes from this address ({per_minute} a minute): try again in {retry_after} s"
    )]
    RateLimited { per_minute: u32, retry_after: u64 },
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    #[error("the server has no client address (serve with ConnectInfo)")]
    NoPeerAddress,
    #[error("the votes database failed; try again later")]
    Store(#[from] Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownItem(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::BadJson(_) | ApiError::BadVote(_) | ApiError::BadQuery(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoPeerAddress | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Store(e) = &self {
            eprintln!("votes: {e}");
        }
        let mut res = (self.status(), Json(json!({ "error": self.to_string() }))).into_response();
        if let ApiError::RateLimited { retry_after, .. } = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        res
    }
}

/// The API's routes (`/api/…`, `/healthz`), every other path a JSON 404.
pub fn router(state: AppState) -> Router {
    let cors = state.0.config.allow_origin.clone().map(|origin| {
        CorsLayer::new()
            // Only a matching Origin gets the header back (`exact` would answer every origin
            // with the site's, leaving the refusal to the browser).
            .allow_origin(AllowOrigin::predicate(move |o, _| *o == origin))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE])
    });
    let app = Router::new()
        .route("/api/votes", get(get_many).post(post_vote))
        .route("/api/votes/{item}", get(get_one))
        .route("/api/badge/{file}", get(badge))
        .route("/healthz", get(healthz))
        .fallback(|req: Request| async move {
            ApiError::NoRoute(format!("{} {}", req.method(), req.uri().path()))
        })
        .with_state(state);
    // Around the whole router: axum adds `Allow` to a 405 outside the per-route layers.
    let app = Router::new()
        .fallback_service(app)
        .layer(axum::middleware::map_response(finish));
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, with the peer addresses the
/// visitor keys and the rate limit need.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Every response: `no-store` unless set (the badge sets its own), and axum's bare 405
/// gets a JSON reason naming the allowed methods.
async fn finish(mut res: Response) -> Response {
    if res.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = res
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = json!({ "error": format!("method not allowed here: use {allow}") });
        *res.body_mut() = Body::from(body.to_string());
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut().remove(header::CONTENT_LENGTH);
    }
    res.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
struct VoteBody {
    item: String,
    vote: serde_json::Value,
}

async fn post_vote(State(state): State<AppState>, req: Request) -> Result<Json<Tally>, ApiError> {
    let addr = state.client_addr(&req)?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(ApiError::TooLarge);
    }
    let (parts, body) = req.into_parts();
    // A chunked body has no length to check first: reading stops past the limit.
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::TooLarge)?;
    let body: VoteBody =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadJson(e.to_string()))?;
    let vote = body
        .vote
        .as_str()
        .and_then(Vote::parse)
        .ok_or_else(|| ApiError::BadVote(body.vote.to_string()))?;
    state.known(&body.item)?;
    if let Err(wait) = state.0.limit.check(addr, Instant::now()) {
        return Err(ApiError::RateLimited {
            per_minute: state.0.limit.per_minute(),
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        });
    }
    let key = state.key(addr, &parts.headers, &body.item);
    Ok(Json(state.0.store.cast(&key, &body.item, vote).await?))
}

async fn get_one(
    State(state): State<AppState>,
    Path(item): Path<String>,
    req: Request,
) -> Result<Json<Tally>, ApiError> {
    state.known(&item)?;
    let addr = state.client_addr(&req)?;
    let key = state.key(addr, req.headers(), &item);
    Ok(Json(state.0.store.tally(&item, &key).await?))
}

/// `GET /api/votes?items=…`: the tallies in the order asked.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Tallies {
    pub items: Vec<Tally>,
}

async fn get_many(State(state): State<AppState>, req: Request) -> Result<Json<Tallies>, ApiError> {
    let list = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("items="))
        .ok_or_else(|| ApiError::BadQuery("missing ?items=a,b,c (item slugs)".into()))?;
    let items: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::BadQuery(format!(
            "?items= takes 1 to {MAX_ITEMS} item slugs, comma-separated"
        )));
    }
    for item in &items {
        state.known(item)?;
    }
    let addr = state.client_addr(&req)?;
    let keyed: Vec<(&str, String)> = items
        .iter()
        .map(|item| (*item, state.key(addr, req.headers(), item)))
        .collect();
    let items = state.0.store.tallies(&keyed).await?;
    Ok(Json(Tallies { items }))
}

/// The build-time badge of a tool (`catalog::badge_svg`), with the live community split.
async fn badge(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let found = state.0.catalog.tools.iter().find_map(|tool| {
        BadgeVariant::ALL
            .into_iter()
            .find(|v| v.file_name(&tool.slug) == file)
            .map(|v| (tool, v))
    });
    let Some((tool, variant)) = found else {
        return ApiError::NoRoute(format!(
            "no badge {file:?}: /api/badge/<tool slug>[-dark|-flat|-flat-dark].svg"
        ))
        .into_response();
    };
    let (ships, skips) = match state.0.store.counts(&tool.slug).await {
        Ok(c) => c,
        Err(e) => return ApiError::Store(e).into_response(),
    };
    let mut live = tool.clone();
    live.community = catalog::Community { ships, skips };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            // Live numbers: caches must ask again (README: a minute is fine for a CDN).
            (header::CACHE_CONTROL, "no-cache"),
        ],
        catalog::badge_svg(&live, variant),
    )
        .into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    let engine = state.0.store.engine().name();
    match state.0.store.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": engine })).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "error", "database": engine, "error": e.to_string() })),
        )
            .into_response(),
    }
}
