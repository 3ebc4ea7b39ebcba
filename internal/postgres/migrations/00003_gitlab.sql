-- +goose Up
-- internal/sqlite's 00003_gitlab.sql in PostgreSQL's dialect. The unique
-- constraint on files now covers only the current file of each name:
-- Gitea's plain INSERT still fails on it, race-free; a GitLab upload marks
-- the current file superseded and inserts the new one.
ALTER TABLE files ADD COLUMN superseded boolean NOT NULL DEFAULT false;
ALTER TABLE files DROP CONSTRAINT files_version_id_lower_name_key;
CREATE UNIQUE INDEX files_current_name ON files (version_id, lower_name) WHERE NOT superseded;
CREATE INDEX files_version_name ON files (version_id, lower_name, id);

ALTER TABLE versions ADD COLUMN status text NOT NULL DEFAULT 'default' CHECK (status IN ('default', 'hidden'));
ALTER TABLE versions ADD COLUMN last_downloaded_at bigint;

CREATE TABLE package_settings (
    owner_id                          bigint  PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    generic_duplicates_allowed        boolean NOT NULL DEFAULT true,
    generic_duplicate_exception_regex text    NOT NULL DEFAULT ''
);

CREATE TABLE project_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text   NOT NULL CHECK (kind IN ('deploy', 'job')),
    owner_id   bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    project_id bigint REFERENCES projects (id) ON DELETE CASCADE,
    name       text   NOT NULL,
    hash       text   NOT NULL UNIQUE,
    last_eight text   NOT NULL,
    scopes     text   NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint
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
DELETE FROM files WHERE superseded;
ALTER TABLE files ADD CONSTRAINT files_version_id_lower_name_key UNIQUE (version_id, lower_name);
ALTER TABLE files DROP COLUMN superseded;
