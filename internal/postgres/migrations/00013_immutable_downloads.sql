-- +goose Up
-- Owner settings that the owner's admins set (quotas are the site admins':
-- owner_quotas). immutable_grace_seconds is NULL when versions are mutable;
-- otherwise a version's files can no longer be added, replaced or deleted
-- (except by site admins) once the version is that many seconds old.
CREATE TABLE owner_settings (
    owner_id                bigint PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    immutable_grace_seconds bigint
);

-- Download counts, added in batches off the download path (as
-- last_downloaded_at): per file, per version, and per version and day
-- (days since the Unix epoch, UTC) for the package page's chart, which sums
-- a package's versions.
ALTER TABLE files ADD COLUMN download_count bigint NOT NULL DEFAULT 0;
ALTER TABLE versions ADD COLUMN download_count bigint NOT NULL DEFAULT 0;
CREATE TABLE download_days (
    version_id bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    day        bigint NOT NULL,
    count      bigint NOT NULL,
    PRIMARY KEY (version_id, day)
);

-- +goose Down
DROP TABLE download_days;
ALTER TABLE versions DROP COLUMN download_count;
ALTER TABLE files DROP COLUMN download_count;
DROP TABLE owner_settings;
