-- +goose Up
-- Small blobs kept inside the database (depot.NewFile.Content): written in
-- the transaction that records their file, so its commit makes bytes and
-- record durable together and the upload never reaches blob storage (on
-- the S3 stack: no PUT, no copy, no HEAD). A blob's content goes with its
-- record (ON DELETE CASCADE), in the transaction that deletes the record.
-- A blob without a row here keeps its bytes in blob storage; reads look
-- here first (depot.Service.openBlob). EXTERNAL storage: out of line past
-- 2 KB, never compressed (packages mostly are already).
CREATE TABLE blob_contents (
    sha256  text  PRIMARY KEY REFERENCES blobs (sha256) ON DELETE CASCADE,
    content bytea NOT NULL
);
ALTER TABLE blob_contents ALTER COLUMN content SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE blob_contents;
