-- +goose Up
-- Blobs whose stored bytes were found not to match their record (by
-- `depot admin verify` or serve's continuous verifier), so that every
-- replica refuses to serve them. A record goes with its blob's.
CREATE TABLE damaged_blobs (
    sha256   text   PRIMARY KEY REFERENCES blobs (sha256) ON DELETE CASCADE,
    problem  text   NOT NULL,
    found_at bigint NOT NULL
);

-- +goose Down
DROP TABLE damaged_blobs;
