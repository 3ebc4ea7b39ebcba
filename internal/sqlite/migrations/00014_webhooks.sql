-- +goose Up
-- Ids are AUTOINCREMENT: never reused (see 00007).
-- Package webhooks (Gitea's "package" event) and their outbox: an event is
-- written in the transaction of the change it reports, with one delivery
-- per hook it goes to; workers claim deliveries by a lease.
CREATE TABLE webhooks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id     INTEGER REFERENCES owners (id) ON DELETE CASCADE, -- NULL: a system hook
    name         TEXT    NOT NULL DEFAULT '',
    url          TEXT    NOT NULL,
    content_type TEXT    NOT NULL CHECK (content_type IN ('json', 'form')),
    secret       TEXT    NOT NULL DEFAULT '',
    events       TEXT    NOT NULL,
    active       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner_id, active);

CREATE TABLE webhook_events (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    action             TEXT    NOT NULL,
    owner_id           INTEGER NOT NULL,
    type               TEXT    NOT NULL,
    package            TEXT    NOT NULL,
    version            TEXT    NOT NULL,
    version_id         INTEGER NOT NULL,
    version_created_at INTEGER NOT NULL,
    creator_id         INTEGER NOT NULL,
    sender_id          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    hook_id     INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    INTEGER NOT NULL REFERENCES webhook_events (id),
    uuid        TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    body        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    hook_id          INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    url              TEXT    NOT NULL,
    request_headers  TEXT    NOT NULL,
    request_body     TEXT    NOT NULL,
    status_code      INTEGER NOT NULL,
    response_headers TEXT    NOT NULL,
    response_body    TEXT    NOT NULL,
    error            TEXT    NOT NULL,
    success          INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_hook ON webhook_attempts (hook_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
