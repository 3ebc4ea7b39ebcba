package sqlrow

import (
	"database/sql"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// String reads a row of one text column (a digest, say).
func String(row Scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// PackageSummary reads an explore listing's row: the package (id, owner,
// type, name, created_at, project), its owner's name, its version count and
// its newest version's time.
func PackageSummary(row Scanner) (*depot.PackageSummary, error) {
	var ps depot.PackageSummary
	var created, updated int64
	if err := row.Scan(&ps.Package.ID, &ps.Package.OwnerID, &ps.Package.Type, &ps.Package.Name, &created, &ps.Package.ProjectID,
		&ps.OwnerName, &ps.Versions, &updated); err != nil {
		return nil, err
	}
	ps.Package.CreatedAt, ps.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &ps, nil
}

// PackageStat reads an owner page's row: the package as in PackageSummary,
// then its version and file counts, size and last upload.
func PackageStat(row Scanner) (*depot.PackageStat, error) {
	var ps depot.PackageStat
	var created, last int64
	if err := row.Scan(&ps.Package.ID, &ps.Package.OwnerID, &ps.Package.Type, &ps.Package.Name, &created, &ps.Package.ProjectID,
		&ps.Versions, &ps.Files, &ps.Size, &last); err != nil {
		return nil, err
	}
	ps.Package.CreatedAt, ps.LastUpload = FromMicros(created), FromMicros(last)
	return &ps, nil
}

// VersionStat reads a version's id, file count, size and last upload.
func VersionStat(row Scanner) (depot.VersionStat, error) {
	var st depot.VersionStat
	var last int64
	if err := row.Scan(&st.VersionID, &st.Files, &st.Size, &last); err != nil {
		return st, err
	}
	st.LastUpload = FromMicros(last)
	return st, nil
}

// BareVersion reads a version's id, package_id, version, creator_id and
// created_at.
func BareVersion(row Scanner) (depot.Version, error) {
	var v depot.Version
	var created int64
	if err := row.Scan(&v.ID, &v.PackageID, &v.Version, &v.CreatorID, &created); err != nil {
		return v, err
	}
	v.CreatedAt = FromMicros(created)
	return v, nil
}

// OrgMember reads a member's OwnerCols followed by its role.
func OrgMember(row Scanner) (*depot.OrgMember, error) {
	var m depot.OrgMember
	u, err := User(extraScanner{row, []any{&m.Role}})
	if err != nil {
		return nil, err
	}
	m.User = u
	return &m, nil
}

// ProjectTokenCols are the columns ProjectToken reads.
const ProjectTokenCols = `id, kind, owner_id, COALESCE(project_id, 0), name, hash, last_eight, scopes, created_at, expires_at`

// ProjectToken reads the ProjectTokenCols of a deploy or job token.
func ProjectToken(row Scanner) (*depot.ProjectToken, error) {
	var t depot.ProjectToken
	var scopes string
	var created int64
	var expires sql.NullInt64
	if err := row.Scan(&t.ID, &t.Kind, &t.OwnerID, &t.ProjectID, &t.Name, &t.Hash, &t.LastEight, &scopes, &created, &expires); err != nil {
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
