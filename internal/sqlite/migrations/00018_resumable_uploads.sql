-- +goose Up
-- Resumable uploads in progress (the IETF resumable upload draft): where
-- each goes, how far it got and the sha256 state of its staged bytes, so
-- that any replica can continue it. Its bytes are staged beside the blobs.
-- A row stays, complete, until it expires, so a client that lost the final
-- answer can see the upload is done; admin gc removes expired rows.
CREATE TABLE resumable_uploads (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token         text NOT NULL UNIQUE,
    dialect       text NOT NULL,
    actor_id      INTEGER NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    owner         text NOT NULL,
    package       text NOT NULL,
    version       text NOT NULL,
    file          text NOT NULL,
    status        text NOT NULL,
    length        INTEGER NOT NULL,
    max_size      INTEGER NOT NULL,
    upload_offset INTEGER NOT NULL,
    complete      INTEGER NOT NULL DEFAULT 0,
    hash_state    BLOB,
    repr_sha256   text NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX resumable_uploads_expires ON resumable_uploads (expires_at);

-- +goose Down
DROP TABLE resumable_uploads;
