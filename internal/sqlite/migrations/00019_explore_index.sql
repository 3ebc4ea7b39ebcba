-- +goose Up
-- The Explore page lists every visible package, most recently uploaded
-- first: this index lets it walk packages in that order and stop after a
-- page, instead of aggregating every version and sorting them all (227 ms
-- with 100,000 packages).
CREATE INDEX packages_upload ON packages (last_upload_at DESC, id);

-- +goose Down
DROP INDEX packages_upload;
