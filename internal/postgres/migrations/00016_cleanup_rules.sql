-- +goose Up
-- Cleanup (retention) rules, one per owner and package type as Gitea's
-- package_cleanup_rule, with depot's extra fields (sort_order,
-- exclude_prereleases, not_downloaded_days).
CREATE TABLE cleanup_rules (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id            bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    type                TEXT    NOT NULL,
    enabled             boolean NOT NULL,
    keep_count          bigint  NOT NULL CHECK (keep_count >= 0),
    keep_pattern        TEXT    NOT NULL DEFAULT '',
    remove_days         bigint  NOT NULL CHECK (remove_days >= 0),
    remove_pattern      TEXT    NOT NULL DEFAULT '',
    match_full_name     boolean NOT NULL,
    sort_order          TEXT    NOT NULL CHECK (sort_order IN ('created', 'semver')),
    exclude_prereleases boolean NOT NULL,
    not_downloaded_days bigint  NOT NULL CHECK (not_downloaded_days >= 0),
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    UNIQUE (owner_id, type)
);
CREATE INDEX cleanup_rules_enabled ON cleanup_rules (enabled, owner_id);

-- The scheduled cleanup's passes: one row per slot (start time divided by
-- the interval), written by the replica that runs it; lease_until bounds
-- how long an unfinished pass (its process died) blocks the next.
CREATE TABLE cleanup_passes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slot        bigint  NOT NULL UNIQUE,
    holder      TEXT    NOT NULL,
    started_at  bigint  NOT NULL,
    lease_until bigint  NOT NULL,
    finished_at bigint,
    deleted     bigint  NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX cleanup_passes_unfinished ON cleanup_passes (finished_at, lease_until);

-- +goose Down
DROP TABLE cleanup_passes;
DROP TABLE cleanup_rules;
