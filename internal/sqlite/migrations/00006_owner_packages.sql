-- +goose Up
-- The owner page lists an owner's packages by last upload, a page at a
-- time, and shows the owner's storage used. Each package keeps the creation
-- time of its newest file (last_upload_at; a version without files counts
-- with its own time) and the sum of its files' sizes (total_size, each file
-- counted): an upload raises them, a delete recomputes them from the
-- package's remaining files (internal/sqlite: insertFile, CreateGitLabFile,
-- settlePackage). One index holds an owner's packages in page order with
-- the name and the size riding along, so a page skips its offset inside it,
-- a name filter tests entries without reading rows, and the total and the
-- storage used are one pass over the owner's entries.
ALTER TABLE packages ADD COLUMN last_upload_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE packages ADD COLUMN total_size INTEGER NOT NULL DEFAULT 0;
UPDATE packages SET (last_upload_at, total_size) = (
    SELECT COALESCE(MAX(COALESCE(f.created_at, v.created_at)), packages.created_at), COALESCE(SUM(b.size), 0)
    FROM versions v
    LEFT JOIN files f ON f.version_id = v.id
    LEFT JOIN blobs b ON b.sha256 = f.blob_sha256
    WHERE v.package_id = packages.id);
CREATE INDEX packages_owner_type_upload ON packages (owner_id, type, last_upload_at DESC, id, lower_name, total_size);

-- +goose Down
DROP INDEX packages_owner_type_upload;
ALTER TABLE packages DROP COLUMN total_size;
ALTER TABLE packages DROP COLUMN last_upload_at;
