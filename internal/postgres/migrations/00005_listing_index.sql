-- +goose Up
-- internal/sqlite's 00005_listing_index.sql in PostgreSQL's dialect.
-- Listings walk an index instead of sorting all of an owner's versions:
-- versions carry their package's owner and type, and two indexes hold an
-- owner's versions in listing order (newest first, ties by ascending id),
-- with and without the type. A page skips its offset inside the index and
-- reads only the rows it shows; the total is a count over the same index.
-- package_id is included so that a name search can test each entry without
-- reading the row.
ALTER TABLE versions ADD COLUMN owner_id bigint, ADD COLUMN type text;
UPDATE versions v SET owner_id = p.owner_id, type = p.type FROM packages p WHERE p.id = v.package_id;
ALTER TABLE versions ALTER COLUMN owner_id SET NOT NULL, ALTER COLUMN type SET NOT NULL;

-- Where SQLite needs triggers, a foreign key keeps the copies true: it
-- takes over the cascade from the one on package_id alone, refuses a
-- version whose owner or type is not its package's, and refuses a change of
-- a package's owner or type while it has versions.
ALTER TABLE packages ADD CONSTRAINT packages_id_owner_type_key UNIQUE (id, owner_id, type);
ALTER TABLE versions ADD CONSTRAINT versions_package_owner_type_fkey FOREIGN KEY (package_id, owner_id, type)
    REFERENCES packages (id, owner_id, type) ON DELETE CASCADE;
ALTER TABLE versions DROP CONSTRAINT versions_package_id_fkey;

CREATE INDEX versions_owner_type_created ON versions (owner_id, type, created_at DESC, id) INCLUDE (package_id);
CREATE INDEX versions_owner_created ON versions (owner_id, created_at DESC, id) INCLUDE (package_id);

-- +goose Down
DROP INDEX versions_owner_created;
DROP INDEX versions_owner_type_created;
ALTER TABLE versions ADD CONSTRAINT versions_package_id_fkey FOREIGN KEY (package_id) REFERENCES packages (id) ON DELETE CASCADE;
ALTER TABLE versions DROP CONSTRAINT versions_package_owner_type_fkey;
ALTER TABLE packages DROP CONSTRAINT packages_id_owner_type_key;
ALTER TABLE versions DROP COLUMN type, DROP COLUMN owner_id;
