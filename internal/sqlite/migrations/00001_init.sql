-- +goose Up
CREATE TABLE owners (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    lower_name    TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('user', 'org')),
    visibility    TEXT    NOT NULL CHECK (visibility IN ('public', 'private')),
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    is_admin      INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE org_members (
    org_id  INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    role    INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    last_eight TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (user_id, name)
);
CREATE INDEX tokens_last_eight ON tokens (last_eight);

CREATE TABLE packages (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    type       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    lower_name TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, type, lower_name)
);

CREATE TABLE versions (
    id            INTEGER PRIMARY KEY,
    package_id    INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version       TEXT    NOT NULL,
    lower_version TEXT    NOT NULL,
    creator_id    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (package_id, lower_version)
);

CREATE TABLE blobs (
    sha256     TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    md5        TEXT    NOT NULL,
    sha1       TEXT    NOT NULL,
    sha512     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    lower_name  TEXT    NOT NULL,
    blob_sha256 TEXT    NOT NULL REFERENCES blobs (sha256),
    creator_id  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (version_id, lower_name)
);
CREATE INDEX files_blob ON files (blob_sha256);

-- +goose Down
DROP TABLE files;
DROP TABLE blobs;
DROP TABLE versions;
DROP TABLE packages;
DROP TABLE tokens;
DROP TABLE org_members;
DROP TABLE owners;
