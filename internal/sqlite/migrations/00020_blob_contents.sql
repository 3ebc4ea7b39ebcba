-- +goose Up
-- Small blobs kept inside the database (depot.NewFile.Content): written in
-- the transaction that records their file, so the WAL fsync of its commit
-- makes bytes and record durable together, with no file, fsync or rename
-- per blob. A blob's content goes with its record (ON DELETE CASCADE), in
-- the transaction that deletes the record. A blob without a row here keeps
-- its bytes in blob storage; reads look here first (depot.Service.openBlob).
-- A table of its own keeps blobs narrow: listings that sum sizes do not
-- read the content's pages.
CREATE TABLE blob_contents (
    sha256  TEXT PRIMARY KEY REFERENCES blobs (sha256) ON DELETE CASCADE,
    content BLOB NOT NULL
);

-- +goose Down
DROP TABLE blob_contents;
