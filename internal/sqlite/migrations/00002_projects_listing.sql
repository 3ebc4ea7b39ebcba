-- +goose Up
-- Projects stand for Gitea repositories and GitLab projects; packages may be
-- linked to one project of their owner.
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    lower_name TEXT    NOT NULL,
    -- NULL inherits the owner's visibility.
    visibility TEXT    CHECK (visibility IN ('public', 'private')),
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, lower_name)
);

ALTER TABLE packages ADD COLUMN project_id INTEGER REFERENCES projects (id) ON DELETE SET NULL;
CREATE INDEX packages_project ON packages (project_id);

-- Version listings: an owner's packages come from packages' unique index on
-- (owner_id, type, lower_name); their versions, newest first, from this one.
CREATE INDEX versions_package_created ON versions (package_id, created_at);

-- The organizations of a user.
CREATE INDEX org_members_user ON org_members (user_id);

-- +goose Down
DROP INDEX org_members_user;
DROP INDEX versions_package_created;
DROP INDEX packages_project;
ALTER TABLE packages DROP COLUMN project_id;
DROP TABLE projects;
