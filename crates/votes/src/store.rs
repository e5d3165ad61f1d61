//! The votes table through sqlx's `Any` driver: one code path, one SQL text, for SQLite
//! (the embedded default: a file in WAL mode) and PostgreSQL.
//!
//! Portable SQL only: `$1` placeholders (SQLite reads them as numbered parameters),
//! `INSERT … ON CONFLICT … DO UPDATE` (SQLite 3.24+, PostgreSQL 9.5+), `TEXT`/`INTEGER`.
//! Migrations live in `crates/votes/migrations/` and are applied by [`Store::open`].
//!
//! SQLite allows one writer at a time: writes go through a pool of one connection (no
//! `SQLITE_BUSY` sleeps under load), reads through their own pool (WAL readers never wait
//! for the writer). `synchronous=NORMAL` in WAL mode: a committed vote survives the
//! process being killed (it is in the WAL, in the OS); only a power loss can lose the
//! last commits. PostgreSQL uses one pool for both, with its default durability.

use std::{str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor, Row,
};

use crate::{visitor::Secret, Choice, Error, Tally};

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A database URL as given on the command line, made into one sqlx accepts: `sqlite:PATH`,
/// `sqlite://PATH`, a bare file path (SQLite), or `postgres://…` / `postgresql://…`.
/// SQLite files are created when missing (`mode=rwc`).
pub fn normalize_url(url: &str) -> Result<(Engine, String), Error> {
    let bad = |reason| Error::BadUrl {
        url: url.to_owned(),
        reason,
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Engine::Postgres, url.to_owned()));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(bad("only sqlite: and postgres:// databases are supported"));
    } else {
        url
    };
    if path.is_empty() {
        return Err(bad("names no SQLite file"));
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    if !params.iter().any(|p| p.starts_with("mode=")) {
        params.push("mode=rwc");
    }
    Ok((
        Engine::Sqlite,
        format!("sqlite://{path}?{}", params.join("&")),
    ))
}

/// The open database: pools, the engine, and the HMAC key read from it.
#[derive(Clone, Debug)]
pub struct Store {
    engine: Engine,
    write: AnyPool,
    read: AnyPool,
    secret: Secret,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects, applies the migrations, and creates the HMAC key on first start.
    pub async fn open(url: &str) -> Result<Store, Error> {
        sqlx::any::install_default_drivers();
        let (engine, url) = normalize_url(url)?;
        let options = AnyConnectOptions::from_str(&url).map_err(|source| Error::Connect {
            engine: engine.name(),
            source,
        })?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if engine == Engine::Sqlite {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(options.clone())
        };
        let connect = |source| Error::Connect {
            engine: engine.name(),
            source,
        };
        let (write, read) = match engine {
            Engine::Sqlite => {
                // The writer first: it creates the file and switches it to WAL.
                let write = pool(1).await.map_err(connect)?;
                MIGRATOR.run(&write).await?;
                let read = pool(4).await.map_err(connect)?;
                (write, read)
            }
            Engine::Postgres => {
                let both = pool(16).await.map_err(connect)?;
                MIGRATOR.run(&both).await?;
                (both.clone(), both)
            }
        };
        let secret = load_secret(&write).await?;
        Ok(Store {
            engine,
            write,
            read,
            secret,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Records (or replaces) the vote under `visitor` and returns the item's counts after it.
    pub async fn cast(&self, visitor: &str, item: &str, vote: Choice) -> Result<Tally, Error> {
        let mut conn = self.write.acquire().await?;
        sqlx::query(
            "INSERT INTO votes (visitor, item, vote) VALUES ($1, $2, $3) \
             ON CONFLICT (visitor) DO UPDATE SET vote = excluded.vote",
        )
        .bind(visitor)
        .bind(item)
        .bind(vote.as_str())
        .execute(&mut *conn)
        .await?;
        let (ship, skip) = counts(&mut *conn, item).await?;
        Ok(Tally::new(item, ship, skip, Some(vote)))
    }

    /// The counts of each item, with the vote stored under its visitor key where there is
    /// one: `items` pairs an item with the key of the asking visitor for it.
    pub async fn tallies(&self, items: &[(&str, String)]) -> Result<Vec<Tally>, Error> {
        let mut conn = self.read.acquire().await?;
        let mut out = Vec::with_capacity(items.len());
        for (item, visitor) in items {
            let (ship, skip) = counts(&mut *conn, item).await?;
            let mine = sqlx::query("SELECT vote FROM votes WHERE visitor = $1")
                .bind(visitor)
                .fetch_optional(&mut *conn)
                .await?;
            let your_vote = match mine {
                Some(row) => Some(parse_vote(row.try_get(0)?)?),
                None => None,
            };
            out.push(Tally::new(item, ship, skip, your_vote));
        }
        Ok(out)
    }

    /// `SELECT 1`: the database answers.
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes the pools (SQLite checkpoints its WAL into the file).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

async fn counts(conn: &mut sqlx::AnyConnection, item: &str) -> Result<(u32, u32), Error> {
    let rows = sqlx::query("SELECT vote, COUNT(*) FROM votes WHERE item = $1 GROUP BY vote")
        .bind(item)
        .fetch_all(conn)
        .await?;
    let (mut ship, mut skip) = (0, 0);
    for row in rows {
        let n: i64 = row.try_get(1)?;
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match parse_vote(row.try_get(0)?)? {
            Choice::Ship => ship = n,
            Choice::Skip => skip = n,
        }
    }
    Ok((ship, skip))
}

fn parse_vote(s: String) -> Result<Choice, Error> {
    Choice::parse(&s).ok_or(Error::CorruptVote(s))
}

/// Reads the HMAC key, creating it if this is the first start (two servers starting at
/// once on one PostgreSQL agree: the second insert does nothing, both read the first).
async fn load_secret(pool: &AnyPool) -> Result<Secret, Error> {
    sqlx::query(
        "INSERT INTO server_secret (id, hmac_key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(Secret::random().to_hex())
    .execute(pool)
    .await?;
    let row = sqlx::query("SELECT hmac_key FROM server_secret WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let hex: String = row.try_get(0)?;
    Secret::from_hex(&hex).ok_or(Error::CorruptSecret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_path_is_a_sqlite_file_created_when_missing() {
        let (e, url) = normalize_url("target/votes.db").unwrap();
        assert_eq!(e, Engine::Sqlite);
        assert_eq!(url, "sqlite://target/votes.db?mode=rwc");
    }

    #[test]
    fn sqlite_urls_keep_their_parameters() {
        assert_eq!(
            normalize_url("sqlite:/tmp/v.db").unwrap().1,
            "sqlite:///tmp/v.db?mode=rwc"
        );
        assert_eq!(
            normalize_url("sqlite:///tmp/v.db?mode=ro").unwrap().1,
            "sqlite:///tmp/v.db?mode=ro"
        );
    }

    #[test]
    fn postgres_urls_pass_through() {
        let url = "postgres://postgres@127.0.0.1:5432/votes";
        assert_eq!(normalize_url(url).unwrap(), (Engine::Postgres, url.into()));
        assert_eq!(
            normalize_url("postgresql://h/db").unwrap().0,
            Engine::Postgres
        );
    }

    #[test]
    fn other_schemes_are_refused_with_the_reason() {
        let e = normalize_url("mysql://h/db").unwrap_err().to_string();
        assert!(e.contains("only sqlite: and postgres://"), "{e}");
        let e = normalize_url("sqlite:").unwrap_err().to_string();
        assert!(e.contains("names no SQLite file"), "{e}");
    }
}
