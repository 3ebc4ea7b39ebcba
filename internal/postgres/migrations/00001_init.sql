-- +goose Up
-- The schema of internal/sqlite's 00001_init.sql in PostgreSQL's dialect.
-- Times are Unix microseconds (bigint), as in SQLite. Case-insensitive names
-- are lower_* columns that the store fills with Go's strings.ToLower, as in
-- SQLite, rather than unique indexes on lower(name): PostgreSQL's lower()
-- depends on the database's collation (under "C" it folds ASCII only), and
-- both backends must agree on which names collide.
CREATE TABLE owners (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text    NOT NULL,
    lower_name    text    NOT NULL UNIQUE,
    kind          text    NOT NULL CHECK (kind IN ('user', 'org')),
    visibility    text    NOT NULL CHECK (visibility IN ('public', 'private')),
    email         text    NOT NULL DEFAULT '',
    password_hash text    NOT NULL DEFAULT '',
    is_admin      boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    bigint  NOT NULL
);

CREATE TABLE org_members (
    org_id  bigint   NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    user_id bigint   NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    role    smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       text   NOT NULL,
    hash       text   NOT NULL UNIQUE,
    last_eight text   NOT NULL,
    scopes     text   NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    UNIQUE (user_id, name)
);
CREATE INDEX tokens_last_eight ON tokens (last_eight);

CREATE TABLE packages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    type       text   NOT NULL,
    name       text   NOT NULL,
    lower_name text   NOT NULL,
    created_at bigint NOT NULL,
    UNIQUE (owner_id, type, lower_name)
);

CREATE TABLE versions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id    bigint NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version       text   NOT NULL,
    lower_version text   NOT NULL,
    creator_id    bigint NOT NULL,
    created_at    bigint NOT NULL,
    UNIQUE (package_id, lower_version)
);

CREATE TABLE blobs (
    sha256     text   PRIMARY KEY,
    size       bigint NOT NULL,
    md5        text   NOT NULL,
    sha1       text   NOT NULL,
    sha512     text   NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE files (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id  bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    name        text   NOT NULL,
    lower_name  text   NOT NULL,
    blob_sha256 text   NOT NULL REFERENCES blobs (sha256),
    creator_id  bigint NOT NULL,
    created_at  bigint NOT NULL,
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
