// Package sqlrow reads depot's rows into domain values for the SQL stores
// (SQLite and PostgreSQL), which share one schema: the same tables and
// columns, times as Unix microseconds. Queries stay in each store, in its
// dialect; what a row means is written once, here. Errors are returned as
// the driver gave them, for the store to translate.
package sqlrow

import (
	"database/sql"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// FromMicros turns a stored Unix-microseconds time into a UTC time.
func FromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface{ Scan(...any) error }

const OwnerCols = `id, name, kind, visibility, email, password_hash, is_admin, disabled, created_at`

// User reads the OwnerCols of a user.
func User(row Scanner) (*depot.User, error) {
	var u depot.User
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.Kind, &u.Visibility, &u.Email, &u.PasswordHash, &u.IsAdmin, &u.Disabled, &created)
	if err != nil {
		return nil, err
	}
	u.CreatedAt = FromMicros(created)
	return &u, nil
}

const TokenCols = `id, user_id, name, hash, last_eight, scopes, created_at, expires_at`

// Token reads the TokenCols of a token.
func Token(row Scanner) (*depot.Token, error) {
	var t depot.Token
	var scopes string
	var created int64
	var expires sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.LastEight, &scopes, &created, &expires); err != nil {
		return nil, err
	}
	for _, sc := range strings.Split(scopes, ",") {
		if sc != "" {
			t.Scopes = append(t.Scopes, depot.Scope(sc))
		}
	}
	t.CreatedAt = FromMicros(created)
	if expires.Valid {
		e := FromMicros(expires.Int64)
		t.ExpiresAt = &e
	}
	return &t, nil
}

// File reads a file row followed by its blob's columns.
func File(row Scanner) (*depot.File, error) {
	var f depot.File
	var created, blobCreated int64
	err := row.Scan(&f.ID, &f.VersionID, &f.Name, &f.CreatorID, &created,
		&f.Blob.SHA256, &f.Blob.Size, &f.Blob.MD5, &f.Blob.SHA1, &f.Blob.SHA512, &blobCreated)
	if err != nil {
		return nil, err
	}
	f.CreatedAt, f.Blob.CreatedAt = FromMicros(created), FromMicros(blobCreated)
	return &f, nil
}

// VersionFields are the columns Version reads: package, version, creator
// (NULL when gone) and project (NULL when unlinked), from a version v and
// VersionJoins.
const VersionFields = `p.id, p.owner_id, p.type, p.name, p.created_at, COALESCE(p.project_id, 0),
	v.id, v.version, v.creator_id, v.created_at,
	c.id, c.name, c.kind, c.visibility, c.email, c.is_admin, c.disabled, c.created_at,
	pr.id, pr.owner_id, pr.name, pr.visibility, pr.created_at, o.name`

// VersionJoins join a version v to what VersionFields read: its package p,
// the package's owner o, its creator c and the package's project pr.
const VersionJoins = `
	JOIN packages p ON p.id = v.package_id
	JOIN owners o ON o.id = p.owner_id
	LEFT JOIN owners c ON c.id = v.creator_id
	LEFT JOIN projects pr ON pr.id = p.project_id`

// VersionCols are VersionFields from versions v and VersionJoins, for a
// query to add its WHERE to.
const VersionCols = VersionFields + "\n\tFROM versions v" + VersionJoins

// GitLabFields are VersionFields followed by the version's status and last
// download time, the columns GitLabPackage reads.
const GitLabFields = VersionFields + `, v.status, v.last_downloaded_at`

// Version reads the VersionFields of a package version.
func Version(row Scanner) (*depot.PackageVersion, error) {
	var pv depot.PackageVersion
	var pkgCreated, verCreated int64
	var cID, cCreated, prID, prOwner, prCreated sql.NullInt64
	var cName, cKind, cVis, cEmail, prName, prVis sql.NullString
	var cAdmin, cDisabled sql.NullBool
	var ownerName string
	err := row.Scan(&pv.Package.ID, &pv.Package.OwnerID, &pv.Package.Type, &pv.Package.Name, &pkgCreated, &pv.Package.ProjectID,
		&pv.Version.ID, &pv.Version.Version, &pv.Version.CreatorID, &verCreated,
		&cID, &cName, &cKind, &cVis, &cEmail, &cAdmin, &cDisabled, &cCreated,
		&prID, &prOwner, &prName, &prVis, &prCreated, &ownerName)
	if err != nil {
		return nil, err
	}
	pv.Package.CreatedAt = FromMicros(pkgCreated)
	pv.Version.PackageID = pv.Package.ID
	pv.Version.CreatedAt = FromMicros(verCreated)
	if cID.Valid {
		pv.Creator = &depot.User{
			Owner: depot.Owner{ID: cID.Int64, Name: cName.String, Kind: depot.OwnerKind(cKind.String),
				Visibility: depot.Visibility(cVis.String), CreatedAt: FromMicros(cCreated.Int64)},
			Email: cEmail.String, IsAdmin: cAdmin.Bool, Disabled: cDisabled.Bool,
		}
	}
	if prID.Valid {
		pv.Project = &depot.Project{ID: prID.Int64, OwnerID: prOwner.Int64, OwnerName: ownerName, Name: prName.String,
			Visibility: depot.Visibility(prVis.String), CreatedAt: FromMicros(prCreated.Int64)}
	}
	return &pv, nil
}

// Project reads a project row with its owner's name.
func Project(row Scanner) (*depot.Project, error) {
	var p depot.Project
	var vis sql.NullString
	var created int64
	if err := row.Scan(&p.ID, &p.OwnerID, &p.OwnerName, &p.Name, &vis, &created); err != nil {
		return nil, err
	}
	p.Visibility = depot.Visibility(vis.String)
	p.CreatedAt = FromMicros(created)
	return &p, nil
}

// extraScanner scans a row's leading columns into what the wrapped scan
// function asks for, and the trailing ones into extra.
type extraScanner struct {
	row   Scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

// GitLabPackage reads the GitLabFields.
func GitLabPackage(row Scanner) (*depot.GitLabPackage, error) {
	var gp depot.GitLabPackage
	var downloaded sql.NullInt64
	pv, err := Version(extraScanner{row, []any{&gp.Status, &downloaded}})
	if err != nil {
		return nil, err
	}
	gp.PackageVersion = *pv
	if downloaded.Valid {
		t := FromMicros(downloaded.Int64)
		gp.LastDownloadedAt = &t
	}
	return &gp, nil
}

// Affected turns an UPDATE or DELETE that matched no row into
// depot.ErrNotFound; err, when not nil, is returned as is.
func Affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return depot.ErrNotFound
	}
	return nil
}
