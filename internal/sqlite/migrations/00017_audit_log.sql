-- +goose Up
-- The audit log: one row per change (and per batch of failed sign-ins),
-- appended after the change commits. Not tied to owners by a foreign key:
-- an entry outlives what it names. Ids are AUTOINCREMENT (see 00007): the
-- keyset paging of the log needs them to grow.
CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor_id INTEGER NOT NULL DEFAULT 0,
    actor    TEXT    NOT NULL,
    addr     TEXT    NOT NULL DEFAULT '',
    action   TEXT    NOT NULL,
    owner    TEXT    NOT NULL DEFAULT '',
    target   TEXT    NOT NULL DEFAULT '',
    detail   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_owner ON audit_events (lower(owner), id);
CREATE INDEX audit_events_actor ON audit_events (lower(actor), id);

-- +goose Down
DROP TABLE audit_events;
