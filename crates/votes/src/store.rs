//! The votes table through sqlx's `Any` driver: one code path, one SQL text, for SQLite
//! (the embedded default: a file in WAL mode) and PostgreSQL.
//!
//! Portable SQL only: `$1` placeholders (SQLite reads them as numbered parameters),
//! `INSERT … ON CONFLICT … DO UPDATE` (SQLite 3.24+, PostgreSQL 9.5+), `TEXT`/`INTEGER`.
//! Migrations live in `crates/votes/migrations/` and are applied by [`Store::open`].
//!
//! Votes are written by one task in batches (group commit): whatever votes arrived while the
//! previous batch was being written go into one transaction (one multi-row upsert of the
//! votes, one of the items' tallies, one read of them), and each vote is answered once its
//! batch is committed. SQLite allows one writer at a time anyway (and `SQLITE_BUSY` sleeps
//! would wreck latency); a few statements per batch instead of several per vote is what
//! reaches thousands of votes a second on two cores. The upsert's `RETURNING` names the rows
//! it inserted or changed (an unchanged vote is not returned), so the tallies move by
//! exactly what changed, also with several servers on one PostgreSQL (the upsert's row lock
//! orders two writes of one visitor).
//! Reads go through their own pool (WAL readers never wait for the writer). `synchronous=NORMAL` in WAL mode: a committed vote survives the
//! process being killed (it is in the WAL, in the OS); only a power loss can lose the
//! last commits. PostgreSQL uses one pool for both, with its default durability.

use std::{collections::HashMap, str::FromStr, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor, Row,
};

use tokio::sync::{mpsc, oneshot};

use crate::{visitor::Secret, Error, Tally, Vote};

/// The most votes written in one statement (3 parameters each, far under SQLite's 32,766).
const MAX_BATCH: usize = 256;

/// One vote waiting for the writer.
struct Cast {
    visitor: String,
    item: String,
    vote: Vote,
    reply: oneshot::Sender<Result<Tally, Error>>,
}

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
    writer: mpsc::Sender<Cast>,
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
                                 PRAGMA busy_timeout = 5000; \
                                 PRAGMA wal_autocheckpoint = 0;",
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
                tokio::spawn(checkpoint_every_second(read.clone()));
                (write, read)
            }
            Engine::Postgres => {
                let both = pool(16).await.map_err(connect)?;
                MIGRATOR.run(&both).await?;
                (both.clone(), both)
            }
        };
        let secret = load_secret(&write).await?;
        let (writer, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(write.clone(), queue));
        Ok(Store {
            engine,
            write,
            read,
            secret,
            writer,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Records (or replaces) the vote under `visitor` and returns the item's counts after it,
    /// once it is committed.
    pub async fn cast(&self, visitor: &str, item: &str, vote: Vote) -> Result<Tally, Error> {
        let (reply, answer) = oneshot::channel();
        let cast = Cast {
            visitor: visitor.to_owned(),
            item: item.to_owned(),
            vote,
            reply,
        };
        self.writer.send(cast).await.map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
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

    /// One item's counts, with the vote stored under `visitor` if there is one.
    pub async fn tally(&self, item: &str, visitor: &str) -> Result<Tally, Error> {
        let mut t = self.tallies(&[(item, visitor.to_owned())]).await?;
        Ok(t.pop().unwrap_or_else(|| Tally::new(item, 0, 0, None)))
    }

    /// An item's (ship, skip) counts.
    pub async fn counts(&self, item: &str) -> Result<(u32, u32), Error> {
        let mut conn = self.read.acquire().await?;
        counts(&mut conn, item).await
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

/// SQLite's automatic checkpoint (off, see `open`) would run inside a writer's commit and
/// stall every vote waiting behind it (measured: p99 22 ms → 8-11 ms at 64 clients without
/// it). A passive checkpoint from a reader's connection copies the WAL into the database
/// beside the writer instead; the writer restarts the WAL once it has all been copied.
async fn checkpoint_every_second(read: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if read.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await
        {
            if read.is_closed() {
                return;
            }
            eprintln!("votes: SQLite checkpoint: {e}");
        }
    }
}

/// The writer task: takes every vote waiting (up to [`MAX_BATCH`]), writes them in one
/// statement, answers each with its item's counts after the batch. Ends when the store is
/// dropped.
async fn write_batches(pool: AnyPool, mut queue: mpsc::Receiver<Cast>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write_batch(&pool, &batch).await {
            Ok(counts) => {
                for c in batch.drain(..) {
                    let (ship, skip) = counts.get(&c.item).copied().unwrap_or_default();
                    _ = c
                        .reply
                        .send(Ok(Tally::new(&c.item, ship, skip, Some(c.vote))));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for c in batch.drain(..) {
                    _ = c.reply.send(Err(Error::Batch(reason.clone())));
                }
            }
        }
    }
}

async fn write_batch(pool: &AnyPool, batch: &[Cast]) -> Result<HashMap<String, (u32, u32)>, Error> {
    // A visitor twice in one batch: the later vote wins, as if written one after the other
    // (and PostgreSQL refuses to update one row twice in one statement). Sorted, so that
    // two servers on one PostgreSQL lock rows in the same order.
    let mut latest: HashMap<&str, &Cast> = HashMap::new();
    for c in batch {
        latest.insert(&c.visitor, c);
    }
    let mut rows: Vec<&Cast> = latest.into_values().collect();
    rows.sort_by(|a, b| a.visitor.cmp(&b.visitor));

    let mut tx = pool.begin().await?;
    let values: Vec<String> = (0..rows.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO votes (visitor, item, vote) VALUES {} \
         ON CONFLICT (visitor) DO UPDATE SET vote = excluded.vote, changes = votes.changes + 1 \
         WHERE votes.vote <> excluded.vote \
         RETURNING item, vote, changes",
        values.join(", ")
    );
    let mut insert = sqlx::query(&sql);
    for c in &rows {
        insert = insert.bind(&c.visitor).bind(&c.item).bind(c.vote.as_str());
    }
    // Per item: (ship delta, skip delta).
    let mut delta: HashMap<String, (i64, i64)> = HashMap::new();
    for row in insert.fetch_all(&mut *tx).await? {
        let item: String = row.try_get(0)?;
        let vote = parse_vote(row.try_get(1)?)?;
        let changed = row.try_get::<i64, _>(2)? > 0;
        let d = delta.entry(item).or_default();
        match (vote, changed) {
            (Vote::Ship, false) => d.0 += 1,
            (Vote::Skip, false) => d.1 += 1,
            (Vote::Ship, true) => (d.0, d.1) = (d.0 + 1, d.1 - 1),
            (Vote::Skip, true) => (d.0, d.1) = (d.0 - 1, d.1 + 1),
        }
    }
    let mut moved: Vec<(String, (i64, i64))> =
        delta.into_iter().filter(|(_, d)| *d != (0, 0)).collect();
    moved.sort();
    if !moved.is_empty() {
        let values: Vec<String> = (0..moved.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO tallies (item, ship, skip) VALUES {} \
             ON CONFLICT (item) DO UPDATE SET ship = tallies.ship + excluded.ship, \
             skip = tallies.skip + excluded.skip",
            values.join(", ")
        );
        let mut update = sqlx::query(&sql);
        for (item, (ship, skip)) in &moved {
            update = update.bind(item).bind(*ship).bind(*skip);
        }
        update.execute(&mut *tx).await?;
    }

    let mut items: Vec<&str> = rows.iter().map(|c| c.item.as_str()).collect();
    items.sort_unstable();
    items.dedup();
    let marks: Vec<String> = (1..=items.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT item, ship, skip FROM tallies WHERE item IN ({})",
        marks.join(", ")
    );
    let mut select = sqlx::query(&sql);
    for item in &items {
        select = select.bind(*item);
    }
    let mut counts = HashMap::new();
    for row in select.fetch_all(&mut *tx).await? {
        counts.insert(
            row.try_get(0)?,
            (count(row.try_get(1)?), count(row.try_get(2)?)),
        );
    }
    tx.commit().await?;
    Ok(counts)
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

async fn counts(conn: &mut sqlx::AnyConnection, item: &str) -> Result<(u32, u32), Error> {
    let row = sqlx::query("SELECT ship, skip FROM tallies WHERE item = $1")
        .bind(item)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => (count(row.try_get(0)?), count(row.try_get(1)?)),
        None => (0, 0),
    })
}

fn parse_vote(s: String) -> Result<Vote, Error> {
    Vote::parse(&s).ok_or(Error::CorruptVote(s))
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
