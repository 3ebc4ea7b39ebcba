-- +goose Up
-- internal/sqlite's 00006_owner_packages.sql in PostgreSQL's dialect.
-- Each package keeps the creation time of its newest file (last_upload_at;
-- a version without files counts with its own time) and the sum of its
-- files' sizes (total_size, each file counted): an upload raises them, a
-- delete recomputes them from the package's remaining files while it holds
-- the package's lock (internal/postgres: recordUpload, settlePackage). One
-- index holds an owner's packages in the owner page's order, with the name
-- and the size included, so a page skips its offset inside it, a name
-- filter tests entries without reading rows, and the total and the storage
-- used are one pass over the owner's entries.
ALTER TABLE packages ADD COLUMN last_upload_at bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_size bigint NOT NULL DEFAULT 0;
UPDATE packages p SET last_upload_at = s.last_upload_at, total_size = s.total_size
FROM (
    SELECT v.package_id, MAX(COALESCE(f.created_at, v.created_at)) AS last_upload_at, COALESCE(SUM(b.size), 0) AS total_size
    FROM versions v
    LEFT JOIN files f ON f.version_id = v.id
    LEFT JOIN blobs b ON b.sha256 = f.blob_sha256
    GROUP BY v.package_id
) s
WHERE s.package_id = p.id;
UPDATE packages SET last_upload_at = created_at WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.package_id = packages.id);
CREATE INDEX packages_owner_type_upload ON packages (owner_id, type, last_upload_at DESC, id) INCLUDE (lower_name, total_size);

-- +goose Down
DROP INDEX packages_owner_type_upload;
ALTER TABLE packages DROP COLUMN total_size, DROP COLUMN last_upload_at;
