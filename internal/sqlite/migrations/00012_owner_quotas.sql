-- +goose Up
-- A site admin's per-owner override of the server's package limits (Gitea's
-- LIMIT_TOTAL_OWNER_COUNT, LIMIT_TOTAL_OWNER_SIZE, LIMIT_SIZE_GENERIC): NULL
-- keeps the server's value, -1 lifts it. Usage is not stored: it is counted
-- from versions and packages.total_size inside the upload's transaction.
CREATE TABLE owner_quotas (
    owner_id      INTEGER PRIMARY KEY REFERENCES owners (id) ON DELETE CASCADE,
    max_versions  INTEGER,
    max_size      INTEGER,
    max_file_size INTEGER
);

-- +goose Down
DROP TABLE owner_quotas;
