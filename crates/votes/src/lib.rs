//! `votes`: the community votes service of the comparison site.
//!
//! Visitors vote ship or skip on a catalog item (a tool slug or a compare slug); pages,
//! embeds and live badges show the split. One code path for two engines through sqlx's
//! `Any` driver: SQLite (a file, WAL; the default) and PostgreSQL ([`store`]). Votes are keyed
//! on an HMAC of address, user agent, item and day, so nothing that identifies a visitor is
//! stored ([`visitor`]). The HTTP API (axum) is [`api`]; the JSON shapes are in README.md's
//! "Votes API". [`bench`] is the loopback load generator of `cargo xtask bench-votes` and of
//! the load tests.
//!
//! Depends on `catalog` for the items and the badge rendering; nothing depends on this crate
//! (xtask runs its binary, pages talk to it over HTTP).

pub mod api;
pub mod bench;
mod error;
pub mod limit;
pub mod store;
pub mod temp_postgres;
pub mod visitor;

pub use api::{router, ApiConfig, ApiError, AppState};
pub use error::Error;
pub use store::{Engine, Store};

use serde::{Deserialize, Serialize};

/// A visitor's vote: the catalog's ship/skip, the same word a reviewer gives.
pub use catalog::Vote;

/// An item's community split, as every endpoint answers it (README.md, "Votes API").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub item: String,
    pub ship: u32,
    pub skip: u32,
    pub total: u32,
    /// Rounded as the panel's percentage is (`catalog::ship_percent`); `null` without votes.
    pub ship_percent: Option<u8>,
    /// The asking visitor's vote on this item today, if any.
    pub your_vote: Option<Vote>,
}

impl Tally {
    pub fn new(item: &str, ship: u32, skip: u32, your_vote: Option<Vote>) -> Tally {
        let community = catalog::Community {
            ships: ship,
            skips: skip,
        };
        Tally {
            item: item.to_owned(),
            ship,
            skip,
            total: community.total(),
            ship_percent: community.ship_percent(),
            your_vote,
        }
    }

    pub fn community(&self) -> catalog::Community {
        catalog::Community {
            ships: self.ship,
            skips: self.skip,
        }
    }
}
