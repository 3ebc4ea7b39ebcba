-- +goose Up
-- Resumable uploads in progress (the IETF resumable upload draft): where
-- each goes, how far it got and the sha256 state of its staged bytes, so
-- that any replica can continue it. Its bytes are staged beside the blobs.
-- A row stays, complete, until it expires, so a client that lost the final
-- answer can see the upload is done; admin gc removes expired rows.
CREATE TABLE resumable_uploads (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token         text NOT NULL UNIQUE,
    dialect       text NOT NULL,
    actor_id      bigint NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    owner         text NOT NULL,
    package       text NOT NULL,
    version       text NOT NULL,
    file          text NOT NULL,
    status        text NOT NULL,
    length        bigint NOT NULL,
    max_size      bigint NOT NULL,
    upload_offset bigint NOT NULL,
    complete      boolean NOT NULL DEFAULT false,
    hash_state    bytea,
    repr_sha256   text NOT NULL,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL
);
CREATE INDEX resumable_uploads_expires ON resumable_uploads (expires_at);

-- +goose Down
DROP TABLE resumable_uploads;
