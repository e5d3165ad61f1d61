-- One portable schema for SQLite and PostgreSQL (sqlx's Any driver runs the same text on both).

-- The HMAC key that turns (client address, user agent, item, UTC day) into a visitor key.
-- One row, created at first start-up; never leaves the database.
CREATE TABLE server_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hmac_key TEXT NOT NULL
);

-- One row per visitor, item and day: voting again the same day replaces the vote.
-- `visitor` is the HMAC, hex; no address or user agent is stored. `changes` counts the
-- replacements, so an upsert's RETURNING tells a new vote (0) from a changed one.
CREATE TABLE votes (
    visitor TEXT PRIMARY KEY,
    item TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('ship', 'skip')),
    changes BIGINT NOT NULL DEFAULT 0
);

-- Each item's counts, kept in the same transaction as the votes: reading them does not
-- grow with the number of votes.
CREATE TABLE tallies (
    item TEXT PRIMARY KEY,
    ship BIGINT NOT NULL DEFAULT 0,
    skip BIGINT NOT NULL DEFAULT 0
);
