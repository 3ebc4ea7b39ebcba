-- +goose Up
-- Listings walk an index instead of sorting all of an owner's versions:
-- versions carry their package's owner and type (a package never changes
-- either), and two indexes hold an owner's versions in listing order (newest
-- first, ties by ascending id), with and without the type. A page skips its
-- offset inside the index and reads only the rows it shows; the total is a
-- count over the same index. package_id rides along so that a name search
-- can test each entry without reading the row.
ALTER TABLE versions ADD COLUMN owner_id INTEGER;
ALTER TABLE versions ADD COLUMN type TEXT;
UPDATE versions SET (owner_id, type) = (SELECT p.owner_id, p.type FROM packages p WHERE p.id = versions.package_id);
CREATE INDEX versions_owner_type_created ON versions (owner_id, type, created_at DESC, id, package_id);
CREATE INDEX versions_owner_created ON versions (owner_id, created_at DESC, id, package_id);

-- SQLite cannot add a NOT NULL column without a default, nor a foreign key
-- to an existing table, so triggers keep the copies true: a version must
-- carry its package's owner and type (a missing package still fails on the
-- foreign key), and a package's owner and type cannot change.
-- +goose StatementBegin
CREATE TRIGGER versions_package_owner_insert BEFORE INSERT ON versions
WHEN NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = NEW.package_id AND p.owner_id IS NEW.owner_id AND p.type IS NEW.type)
    AND EXISTS (SELECT 1 FROM packages p WHERE p.id = NEW.package_id)
BEGIN
    SELECT RAISE(ABORT, 'versions.owner_id and versions.type must be those of the package');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER versions_package_owner_update BEFORE UPDATE OF package_id, owner_id, type ON versions
WHEN NOT EXISTS (SELECT 1 FROM packages p WHERE p.id = NEW.package_id AND p.owner_id IS NEW.owner_id AND p.type IS NEW.type)
BEGIN
    SELECT RAISE(ABORT, 'versions.owner_id and versions.type must be those of the package');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER packages_owner_type_fixed BEFORE UPDATE OF owner_id, type ON packages
WHEN NEW.owner_id IS NOT OLD.owner_id OR NEW.type IS NOT OLD.type
BEGIN
    SELECT RAISE(ABORT, 'a package''s owner and type cannot change');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER packages_owner_type_fixed;
DROP TRIGGER versions_package_owner_update;
DROP TRIGGER versions_package_owner_insert;
DROP INDEX versions_owner_created;
DROP INDEX versions_owner_type_created;
ALTER TABLE versions DROP COLUMN type;
ALTER TABLE versions DROP COLUMN owner_id;
