//! A throwaway PostgreSQL server for the tests and the benchmark: Debian's `postgresql`
//! binaries, a fresh data directory under the temp dir, listening on a free loopback port
//! only (its socket in the data directory), trust authentication, stopped and deleted on
//! drop. PostgreSQL refuses to run as root: as root, every command runs as the `postgres`
//! user (`runuser`), and the data directory is given to that user.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// What kept the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "PostgreSQL is not installed (no {0}): `cargo xtask install` installs Debian's \
         postgresql package (as root), or `apt-get install postgresql`"
    )]
    NotInstalled(String),
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running server; stopped and its data directory deleted when dropped.
#[derive(Debug)]
pub struct TempPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl TempPostgres {
    /// `initdb` then `pg_ctl start` (waiting until it accepts connections).
    pub fn start() -> Result<TempPostgres, PgError> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "votes-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let pg = TempPostgres {
            bin,
            dir,
            port,
            as_postgres,
        };
        if as_postgres {
            pg.run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&pg.dir),
                false,
            )?;
        }
        let data = pg.data();
        pg.run(
            Command::new(pg.bin.join("initdb"))
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data),
            true,
        )?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=300",
            data.display()
        );
        pg.run(
            Command::new(pg.bin.join("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(pg.dir.join("server.log"))
                .args(["-o", &opts, "start"]),
            true,
        )?;
        Ok(pg)
    }

    /// The URL of database `db` (`postgres` always exists).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub async fn create_database(&self, db: &str) -> Result<String, sqlx::Error> {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url("postgres")).await?;
        // `db` is ours (a test's name), never a visitor's input.
        sqlx::query(&format!("CREATE DATABASE \"{db}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(self.url(db))
    }

    /// The server's own log (for a test that fails).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, cmd: &mut Command, as_postgres: bool) -> Result<Output, PgError> {
        let mut cmd = if as_postgres && self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(cmd.get_program())
                .args(cmd.get_args());
            c
        } else {
            std::mem::replace(cmd, Command::new("true"))
        };
        let shown = format!("{cmd:?}");
        let out = cmd.output()?;
        if !out.status.success() {
            return Err(PgError::Command {
                cmd: shown,
                detail: format!(
                    "{}{}{}",
                    String::from_utf8_lossy(&out.stderr),
                    String::from_utf8_lossy(&out.stdout),
                    self.log()
                ),
            });
        }
        Ok(out)
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.data();
        if let Err(e) = self.run(
            Command::new(self.bin.join("pg_ctl"))
                .args(["-w", "-m", "fast", "-D"])
                .arg(&data)
                .arg("stop"),
            true,
        ) {
            eprintln!("votes: stopping the temporary PostgreSQL: {e}");
        }
        _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian keeps the server binaries in `/usr/lib/postgresql/<major>/bin` (the newest wins).
fn find_bin() -> Result<PathBuf, PgError> {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| PgError::NotInstalled(root.join("*/bin/initdb").display().to_string()))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
