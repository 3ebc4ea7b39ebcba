package sqlite

import (
	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// The row readers are shared with the other SQL store (internal/sqlrow);
// these wrappers translate driver errors into depot's kinds.

type scanner = sqlrow.Scanner

const (
	ownerCols   = sqlrow.OwnerCols
	tokenCols   = sqlrow.TokenCols
	versionCols = sqlrow.VersionCols
	// For listings, which join a page of version ids to their rows.
	versionFields = sqlrow.VersionFields
	versionJoins  = sqlrow.VersionJoins
	gitlabFields  = sqlrow.GitLabFields
)

func scanUser(row scanner) (*depot.User, error) { v, err := sqlrow.User(row); return v, translate(err) }

func scanToken(row scanner) (*depot.Token, error) {
	v, err := sqlrow.Token(row)
	return v, translate(err)
}

func scanFile(row scanner) (*depot.File, error) { v, err := sqlrow.File(row); return v, translate(err) }

func scanVersion(row scanner) (*depot.PackageVersion, error) {
	v, err := sqlrow.Version(row)
	return v, translate(err)
}

func scanProject(row scanner) (*depot.Project, error) {
	v, err := sqlrow.Project(row)
	return v, translate(err)
}

func scanGitLabPackage(row scanner) (*depot.GitLabPackage, error) {
	v, err := sqlrow.GitLabPackage(row)
	return v, translate(err)
}

func scanOrgMember(row scanner) (*depot.OrgMember, error) {
	v, err := sqlrow.OrgMember(row)
	return v, translate(err)
}
