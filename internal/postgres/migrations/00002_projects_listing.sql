-- +goose Up
-- internal/sqlite's 00002_projects_listing.sql in PostgreSQL's dialect
-- (00001 already has org_members_user). Projects stand for Gitea
-- repositories and GitLab projects; packages may be linked to one project of
-- their owner.
CREATE TABLE projects (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name       text   NOT NULL,
    lower_name text   NOT NULL,
    -- NULL inherits the owner's visibility.
    visibility text   CHECK (visibility IN ('public', 'private')),
    created_at bigint NOT NULL,
    UNIQUE (owner_id, lower_name)
);

ALTER TABLE packages ADD COLUMN project_id bigint REFERENCES projects (id) ON DELETE SET NULL;
CREATE INDEX packages_project ON packages (project_id);

-- Version listings: an owner's packages come from packages' unique index on
-- (owner_id, type, lower_name); their versions, newest first, from this one.
CREATE INDEX versions_package_created ON versions (package_id, created_at);

-- +goose Down
DROP INDEX versions_package_created;
DROP INDEX packages_project;
ALTER TABLE packages DROP COLUMN project_id;
DROP TABLE projects;
