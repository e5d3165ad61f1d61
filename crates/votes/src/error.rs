//! What can go wrong in the votes service itself (bad requests are [`crate::api::ApiError`]).

/// A failure of the store: connecting, migrating or a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database URL {url:?}: {reason}")]
    BadUrl { url: String, reason: &'static str },
    #[error("cannot connect to the {engine} database: {source}")]
    Connect {
        engine: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("applying the migrations in crates/votes/migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("writing the batch of votes this one was in: {0}")]
    Batch(String),
    #[error("the votes store is closed")]
    Closed,
    #[error("the stored vote {0:?} is neither ship nor skip")]
    CorruptVote(String),
    #[error("the stored HMAC key is not 64 hex digits")]
    CorruptSecret,
}
