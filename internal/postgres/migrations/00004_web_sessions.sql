-- +goose Up
-- Browser sessions of the web UI: only a hash of each secret is stored.
CREATE TABLE sessions (
    hash       text   PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
