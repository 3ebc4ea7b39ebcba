-- +goose Up
-- Package webhooks (Gitea's "package" event) and their outbox: an event is
-- written in the transaction of the change it reports, with one delivery
-- per hook it goes to; workers claim deliveries by a lease.
CREATE TABLE webhooks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id     bigint  REFERENCES owners (id) ON DELETE CASCADE, -- NULL: a system hook
    name         text    NOT NULL DEFAULT '',
    url          text    NOT NULL,
    content_type text    NOT NULL CHECK (content_type IN ('json', 'form')),
    secret       text    NOT NULL DEFAULT '',
    events       text    NOT NULL,
    active       boolean NOT NULL,
    created_at   bigint  NOT NULL,
    updated_at   bigint  NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner_id, active);

CREATE TABLE webhook_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action             text    NOT NULL,
    owner_id           bigint  NOT NULL,
    type               text    NOT NULL,
    package            text    NOT NULL,
    version            text    NOT NULL,
    version_id         bigint  NOT NULL,
    version_created_at bigint  NOT NULL,
    creator_id         bigint  NOT NULL,
    sender_id          bigint  NOT NULL,
    created_at         bigint  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hook_id     bigint  NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    bigint  NOT NULL REFERENCES webhook_events (id),
    uuid        text    NOT NULL,
    state       text    NOT NULL DEFAULT 'pending',
    attempts    bigint  NOT NULL DEFAULT 0,
    next_at     bigint  NOT NULL,
    lease_until bigint  NOT NULL DEFAULT 0,
    body        text    NOT NULL DEFAULT '',
    created_at  bigint  NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      bigint  NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    hook_id          bigint  NOT NULL,
    started_at       bigint  NOT NULL,
    duration_us      bigint  NOT NULL,
    url              text    NOT NULL,
    request_headers  text    NOT NULL,
    request_body     text    NOT NULL,
    status_code      bigint  NOT NULL,
    response_headers text    NOT NULL,
    response_body    text    NOT NULL,
    error            text    NOT NULL,
    success          boolean NOT NULL
);
CREATE INDEX webhook_attempts_hook ON webhook_attempts (hook_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
