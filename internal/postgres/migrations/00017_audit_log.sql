-- +goose Up
-- The audit log: one row per change (and per batch of failed sign-ins),
-- appended after the change commits. Not tied to owners by a foreign key:
-- an entry outlives what it names.
CREATE TABLE audit_events (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       bigint NOT NULL,
    actor_id bigint NOT NULL DEFAULT 0,
    actor    text   NOT NULL,
    addr     text   NOT NULL DEFAULT '',
    action   text   NOT NULL,
    owner    text   NOT NULL DEFAULT '',
    target   text   NOT NULL DEFAULT '',
    detail   text   NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_owner ON audit_events (lower(owner), id);
CREATE INDEX audit_events_actor ON audit_events (lower(actor), id);

-- +goose Down
DROP TABLE audit_events;
