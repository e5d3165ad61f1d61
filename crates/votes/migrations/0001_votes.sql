-- One portable schema for SQLite and PostgreSQL (sqlx's Any driver runs the same text on both).

-- The HMAC key that turns (client address, user agent, item, UTC day) into a visitor key.
-- One row, created at first start-up; never leaves the database.
CREATE TABLE server_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hmac_key TEXT NOT NULL
);

-- One row per visitor, item and day: voting again the same day replaces the vote.
-- `visitor` is the HMAC, hex; no address or user agent is stored.
CREATE TABLE votes (
    visitor TEXT PRIMARY KEY,
    item TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('ship', 'skip'))
);

-- Counting an item's ship and skip votes reads this index only.
CREATE INDEX votes_item_vote ON votes (item, vote);
