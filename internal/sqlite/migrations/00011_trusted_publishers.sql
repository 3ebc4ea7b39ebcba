-- +goose Up
-- Ids are AUTOINCREMENT: never reused (see 00007).
-- Trusted publishers: CI identities (an OIDC issuer, an audience, claim
-- conditions as a JSON object, package patterns as a JSON array) an owner
-- lets publish.
CREATE TABLE trusted_publishers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    issuer     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    claims     TEXT    NOT NULL,
    packages   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX trusted_publishers_issuer ON trusted_publishers (issuer);
CREATE INDEX trusted_publishers_owner ON trusted_publishers (owner_id);

-- Every use of an ID token: an exchange (hash and last_eight identify the
-- token minted for it) or a direct use (direct = 1, no token). The record
-- outlives its publisher (publisher_id becomes NULL, its tokens stop
-- working).
CREATE TABLE publisher_exchanges (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    publisher_id INTEGER REFERENCES trusted_publishers (id) ON DELETE SET NULL,
    owner_id     INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    issuer       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    repository   TEXT    NOT NULL,
    workflow     TEXT    NOT NULL,
    run_id       TEXT    NOT NULL,
    sha          TEXT    NOT NULL,
    ref          TEXT    NOT NULL,
    direct       INTEGER NOT NULL DEFAULT 0,
    hash         TEXT    UNIQUE,
    last_eight   TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX publisher_exchanges_last_eight ON publisher_exchanges (last_eight);
CREATE INDEX publisher_exchanges_owner ON publisher_exchanges (owner_id, id);
CREATE INDEX publisher_exchanges_publisher ON publisher_exchanges (publisher_id);

-- The exchange whose token uploaded a file: the file's CI identity.
CREATE TABLE file_publications (
    file_id     INTEGER PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    exchange_id INTEGER NOT NULL REFERENCES publisher_exchanges (id) ON DELETE CASCADE
);
CREATE INDEX file_publications_exchange ON file_publications (exchange_id);

-- +goose Down
DROP TABLE file_publications;
DROP TABLE publisher_exchanges;
DROP TABLE trusted_publishers;
