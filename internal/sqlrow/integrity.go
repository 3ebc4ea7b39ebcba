package sqlrow

import "github.com/depot-registry/depot/internal/depot"

// BlobCols are the columns Blob reads, of blobs b.
const BlobCols = `b.sha256, b.size, b.md5, b.sha1, b.sha512, b.created_at`

// Blob reads the BlobCols of a blob.
func Blob(row Scanner) (depot.Blob, error) {
	var b depot.Blob
	var created int64
	if err := row.Scan(&b.SHA256, &b.Size, &b.MD5, &b.SHA1, &b.SHA512, &created); err != nil {
		return b, err
	}
	b.CreatedAt = FromMicros(created)
	return b, nil
}

// BlobFileQuery selects the BlobFile columns of the files of the blob named
// by its one parameter, written ? for SQLite (PostgreSQL replaces it).
const BlobFileQuery = `SELECT f.id, o.name, p.type, p.name, v.version, f.name
	FROM files f
	JOIN versions v ON v.id = f.version_id
	JOIN packages p ON p.id = v.package_id
	JOIN owners o ON o.id = p.owner_id
	WHERE f.blob_sha256 = ? ORDER BY f.id`

// BlobFile reads a row of BlobFileQuery.
func BlobFile(row Scanner) (depot.BlobFile, error) {
	var f depot.BlobFile
	err := row.Scan(&f.ID, &f.Owner, &f.Type, &f.Package, &f.Version, &f.File)
	return f, err
}

// DamageCols are the columns BlobDamage reads, of damaged_blobs.
const DamageCols = `sha256, problem, found_at`

// BlobDamage reads the DamageCols of a damage record.
func BlobDamage(row Scanner) (depot.BlobDamage, error) {
	var d depot.BlobDamage
	var found int64
	if err := row.Scan(&d.SHA256, &d.Problem, &found); err != nil {
		return d, err
	}
	d.FoundAt = FromMicros(found)
	return d, nil
}
