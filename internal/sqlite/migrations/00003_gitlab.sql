-- +goose Up
-- The GitLab dialect. GitLab keeps every upload of a file name in a version
-- (the newest wins on download) while the Gitea dialect refuses a second
-- one. The unique index now covers only the current file of each name:
-- Gitea's plain INSERT still fails on it, race-free; a GitLab upload marks
-- the current file superseded and inserts the new one in one transaction.
-- SQLite cannot drop a table constraint, so files is rebuilt (nothing
-- references it).
CREATE TABLE files_new (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    lower_name  TEXT    NOT NULL,
    blob_sha256 TEXT    NOT NULL REFERENCES blobs (sha256),
    creator_id  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    superseded  INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1))
);
INSERT INTO files_new (id, version_id, name, lower_name, blob_sha256, creator_id, created_at)
    SELECT id, version_id, name, lower_name, blob_sha256, creator_id, created_at FROM files;
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
CREATE INDEX files_blob ON files (blob_sha256);
CREATE UNIQUE INDEX files_current_name ON files (version_id, lower_name) WHERE superseded = 0;
CREATE INDEX files_version_name ON files (version_id, lower_name, id);

-- GitLab's package status ('default' or 'hidden') and last download, per
-- version (a GitLab package is a depot version).
ALTER TABLE versions ADD COLUMN status TEXT NOT NULL DEFAULT 'default' CHECK (status IN ('default', 'hidden'));
ALTER TABLE versions ADD COLUMN last_downloaded_at INTEGER;

-- GitLab's namespace package settings for generic duplicates.
CREATE TABLE package_settings (
    owner_id                          INTEGER PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    generic_duplicates_allowed        INTEGER NOT NULL DEFAULT 1,
    generic_duplicate_exception_regex TEXT    NOT NULL DEFAULT ''
);

-- GitLab deploy tokens (a project's, or every project of an owner) and job
-- tokens (a project's, short-lived).
CREATE TABLE project_tokens (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('deploy', 'job')),
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    project_id INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    last_eight TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE UNIQUE INDEX project_tokens_name ON project_tokens (kind, owner_id, COALESCE(project_id, 0), name);
CREATE INDEX project_tokens_last_eight ON project_tokens (last_eight);

-- +goose Down
DROP TABLE project_tokens;
DROP TABLE package_settings;
ALTER TABLE versions DROP COLUMN last_downloaded_at;
ALTER TABLE versions DROP COLUMN status;
DROP INDEX files_version_name;
DROP INDEX files_current_name;
DELETE FROM files WHERE superseded = 1;
CREATE UNIQUE INDEX files_version_lower_name ON files (version_id, lower_name);
ALTER TABLE files DROP COLUMN superseded;
