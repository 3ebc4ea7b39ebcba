-- +goose NO TRANSACTION
-- +goose Up
-- Ids are never reused: a client holding the id of a deleted package, file,
-- token, project or owner must never reach another one through it (GitLab
-- and Gitea never reuse ids; PostgreSQL's identity columns never do). A
-- plain INTEGER PRIMARY KEY takes max(id)+1, so deleting the newest row
-- gave its id to the next; AUTOINCREMENT keeps the highest id ever used in
-- sqlite_sequence. SQLite cannot add AUTOINCREMENT to a table, so every
-- table with an integer id is rebuilt, following SQLite's 12-step ALTER
-- TABLE procedure (https://www.sqlite.org/lang_altertable.html#otheralter):
-- foreign keys off (outside a transaction, hence NO TRANSACTION; goose runs
-- this file on one connection), one transaction, a new table per table with
-- the same columns, checks and foreign keys, rows copied with their ids
-- (which sets sqlite_sequence to their maximum), the old table dropped and
-- the new one renamed, indexes and triggers created again, then
-- foreign_key_check, which must find nothing, before the commit. An id
-- deleted before this migration above the remaining maximum can still be
-- given once more: nothing remembers it.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

DROP TRIGGER packages_owner_type_fixed;
DROP TRIGGER versions_package_owner_insert;
DROP TRIGGER versions_package_owner_update;

CREATE TABLE owners_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO owners_new (id, name, lower_name, kind, visibility, email, password_hash, is_admin, disabled, created_at)
    SELECT id, name, lower_name, kind, visibility, email, password_hash, is_admin, disabled, created_at FROM owners;
DROP TABLE owners;
ALTER TABLE owners_new RENAME TO owners;

CREATE TABLE tokens_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    last_eight TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (user_id, name)
);
INSERT INTO tokens_new (id, user_id, name, hash, last_eight, scopes, created_at, expires_at)
    SELECT id, user_id, name, hash, last_eight, scopes, created_at, expires_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE INDEX tokens_last_eight ON tokens (last_eight);

CREATE TABLE projects_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    lower_name TEXT    NOT NULL,
    -- NULL inherits the owner's visibility.
    visibility TEXT    CHECK (visibility IN ('public', 'private')),
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, lower_name)
);
INSERT INTO projects_new (id, owner_id, name, lower_name, visibility, created_at)
    SELECT id, owner_id, name, lower_name, visibility, created_at FROM projects;
DROP TABLE projects;
ALTER TABLE projects_new RENAME TO projects;

CREATE TABLE packages_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id       INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    type           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    lower_name     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    project_id     INTEGER REFERENCES projects (id) ON DELETE SET NULL,
    last_upload_at INTEGER NOT NULL DEFAULT 0,
    total_size     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (owner_id, type, lower_name)
);
INSERT INTO packages_new (id, owner_id, type, name, lower_name, created_at, project_id, last_upload_at, total_size)
    SELECT id, owner_id, type, name, lower_name, created_at, project_id, last_upload_at, total_size FROM packages;
DROP TABLE packages;
ALTER TABLE packages_new RENAME TO packages;
CREATE INDEX packages_project ON packages (project_id);
CREATE INDEX packages_owner_type_upload ON packages (owner_id, type, last_upload_at DESC, id, lower_name, total_size);

CREATE TABLE versions_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id         INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version            TEXT    NOT NULL,
    lower_version      TEXT    NOT NULL,
    creator_id         INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    status             TEXT    NOT NULL DEFAULT 'default' CHECK (status IN ('default', 'hidden')),
    last_downloaded_at INTEGER,
    owner_id           INTEGER,
    type               TEXT,
    UNIQUE (package_id, lower_version)
);
INSERT INTO versions_new (id, package_id, version, lower_version, creator_id, created_at, status, last_downloaded_at, owner_id, type)
    SELECT id, package_id, version, lower_version, creator_id, created_at, status, last_downloaded_at, owner_id, type FROM versions;
DROP TABLE versions;
ALTER TABLE versions_new RENAME TO versions;
CREATE INDEX versions_package_created ON versions (package_id, created_at);
CREATE INDEX versions_owner_type_created ON versions (owner_id, type, created_at DESC, id, package_id);
CREATE INDEX versions_owner_created ON versions (owner_id, created_at DESC, id, package_id);

CREATE TABLE files_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id  INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    lower_name  TEXT    NOT NULL,
    blob_sha256 TEXT    NOT NULL REFERENCES blobs (sha256),
    creator_id  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    superseded  INTEGER NOT NULL DEFAULT 0 CHECK (superseded IN (0, 1))
);
INSERT INTO files_new (id, version_id, name, lower_name, blob_sha256, creator_id, created_at, superseded)
    SELECT id, version_id, name, lower_name, blob_sha256, creator_id, created_at, superseded FROM files;
DROP TABLE files;
ALTER TABLE files_new RENAME TO files;
CREATE INDEX files_blob ON files (blob_sha256);
CREATE UNIQUE INDEX files_current_name ON files (version_id, lower_name) WHERE superseded = 0;
CREATE INDEX files_version_name ON files (version_id, lower_name, id);

CREATE TABLE project_tokens_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO project_tokens_new (id, kind, owner_id, project_id, name, hash, last_eight, scopes, created_at, expires_at)
    SELECT id, kind, owner_id, project_id, name, hash, last_eight, scopes, created_at, expires_at FROM project_tokens;
DROP TABLE project_tokens;
ALTER TABLE project_tokens_new RENAME TO project_tokens;
CREATE UNIQUE INDEX project_tokens_name ON project_tokens (kind, owner_id, COALESCE(project_id, 0), name);
CREATE INDEX project_tokens_last_eight ON project_tokens (last_eight);

-- +goose StatementBegin
CREATE TRIGGER versions_package_owner_insert BEFORE INSERT ON versions
WHEN NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = NEW.package_id AND p.owner_id IS NEW.owner_id AND p.type IS NEW.type)
    AND EXISTS (SELECT 1 FROM packages p WHERE p.id = NEW.package_id)
BEGIN
    SELECT RAISE(ABORT, 'versions.owner_id and versions.type must be those of the package');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER versions_package_owner_update BEFORE UPDATE OF package_id, owner_id, type ON versions
WHEN NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = NEW.package_id AND p.owner_id IS NEW.owner_id AND p.type IS NEW.type)
BEGIN
    SELECT RAISE(ABORT, 'versions.owner_id and versions.type must be those of the package');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER packages_owner_type_fixed BEFORE UPDATE OF owner_id, type ON packages
WHEN NEW.owner_id IS NOT OLD.owner_id OR NEW.type IS NOT OLD.type
BEGIN
    SELECT RAISE(ABORT, 'a package''s owner and type cannot change');
END;
-- +goose StatementEnd

-- Step 10: no row may break a foreign key. The check is a table whose
-- CHECK fails, and with it the migration, when the pragma reports any row.
CREATE TEMP TABLE migration_00007_fk_violations (n INTEGER CHECK (n = 0));
INSERT INTO migration_00007_fk_violations SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE migration_00007_fk_violations;

COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
-- The tables keep AUTOINCREMENT: the schema of 00006 works with it, and
-- dropping it would let ids be reused again.
SELECT 1;
