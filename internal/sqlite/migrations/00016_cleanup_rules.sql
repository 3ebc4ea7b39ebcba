-- +goose Up
-- Ids are AUTOINCREMENT: never reused (see 00007).
-- Cleanup (retention) rules, one per owner and package type as Gitea's
-- package_cleanup_rule, with depot's extra fields (sort_order,
-- exclude_prereleases, not_downloaded_days).
CREATE TABLE cleanup_rules (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id            INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    type                TEXT    NOT NULL,
    enabled             INTEGER NOT NULL,
    keep_count          INTEGER NOT NULL CHECK (keep_count >= 0),
    keep_pattern        TEXT    NOT NULL DEFAULT '',
    remove_days         INTEGER NOT NULL CHECK (remove_days >= 0),
    remove_pattern      TEXT    NOT NULL DEFAULT '',
    match_full_name     INTEGER NOT NULL,
    sort_order          TEXT    NOT NULL CHECK (sort_order IN ('created', 'semver')),
    exclude_prereleases INTEGER NOT NULL,
    not_downloaded_days INTEGER NOT NULL CHECK (not_downloaded_days >= 0),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (owner_id, type)
);
CREATE INDEX cleanup_rules_enabled ON cleanup_rules (enabled, owner_id);

-- The scheduled cleanup's passes: one row per slot (start time divided by
-- the interval), written by the replica that runs it; lease_until bounds
-- how long an unfinished pass (its process died) blocks the next.
CREATE TABLE cleanup_passes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slot        INTEGER NOT NULL UNIQUE,
    holder      TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    finished_at INTEGER,
    deleted     INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX cleanup_passes_unfinished ON cleanup_passes (finished_at, lease_until);

-- +goose Down
DROP TABLE cleanup_passes;
DROP TABLE cleanup_rules;
