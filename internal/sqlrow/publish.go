package sqlrow

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// PublisherCols are the columns Publisher reads, from trusted_publishers t
// joined with owners o.
const PublisherCols = `t.id, t.owner_id, o.name, t.issuer, t.audience, t.claims, t.packages, t.created_at`

// PublisherJSON encodes a publisher's conditions and package patterns as
// stored (JSON).
func PublisherJSON(p *depot.TrustedPublisher) (claims, packages string, err error) {
	c := make(map[string]string, len(p.Claims))
	for _, cc := range p.Claims {
		c[cc.Name] = cc.Pattern
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return "", "", err
	}
	pkgs := p.Packages
	if pkgs == nil {
		pkgs = []string{}
	}
	pj, err := json.Marshal(pkgs)
	return string(cj), string(pj), err
}

// Publisher reads the PublisherCols of a trusted publisher.
func Publisher(row Scanner) (*depot.TrustedPublisher, error) {
	var p depot.TrustedPublisher
	var claims, packages string
	var created int64
	if err := row.Scan(&p.ID, &p.OwnerID, &p.OwnerName, &p.Issuer, &p.Audience, &claims, &packages, &created); err != nil {
		return nil, err
	}
	var c map[string]string
	if err := json.Unmarshal([]byte(claims), &c); err != nil {
		return nil, fmt.Errorf("trusted publisher %d: claims: %w", p.ID, err)
	}
	for name, pattern := range c {
		p.Claims = append(p.Claims, depot.ClaimCondition{Name: name, Pattern: pattern})
	}
	slices.SortFunc(p.Claims, func(a, b depot.ClaimCondition) int { return strings.Compare(a.Name, b.Name) })
	if err := json.Unmarshal([]byte(packages), &p.Packages); err != nil {
		return nil, fmt.Errorf("trusted publisher %d: packages: %w", p.ID, err)
	}
	if len(p.Packages) == 0 {
		p.Packages = nil
	}
	p.CreatedAt = FromMicros(created)
	return &p, nil
}

// ExchangeCols are the columns Exchange reads from publisher_exchanges.
var ExchangeCols = ExchangeColsOf("")

// ExchangeColsOf are ExchangeCols of publisher_exchanges under an alias
// ("" for none).
func ExchangeColsOf(alias string) string {
	a := ""
	if alias != "" {
		a = alias + "."
	}
	return a + "id, COALESCE(" + a + "publisher_id, 0), " + a + "owner_id, " + a + "issuer, " + a + "subject, " + a + "repository, " +
		a + "workflow, " + a + "run_id, " + a + "sha, " + a + "ref, " + a + "direct, COALESCE(" + a + "hash, ''), COALESCE(" + a + "last_eight, ''), " +
		a + "created_at, " + a + "expires_at"
}

// Exchange reads the ExchangeCols of an exchange.
func Exchange(row Scanner) (*depot.PublisherExchange, error) {
	return exchange(row)
}

// exchange reads ExchangeCols after the leading destinations lead.
func exchange(row Scanner, lead ...any) (*depot.PublisherExchange, error) {
	var e depot.PublisherExchange
	var created, expires int64
	dest := append(lead, &e.ID, &e.PublisherID, &e.OwnerID, &e.Issuer, &e.Subject, &e.Repository, &e.Workflow, &e.RunID, &e.SHA, &e.Ref,
		&e.Direct, &e.Hash, &e.LastEight, &created, &expires)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.CreatedAt, e.ExpiresAt = FromMicros(created), FromMicros(expires)
	return &e, nil
}

// ExchangeArgs are an exchange's values in the order of ExchangeCols after
// the id (a direct use stores NULL for the hash).
func ExchangeArgs(e *depot.PublisherExchange) []any {
	var hash, last sql.NullString
	if e.Hash != "" {
		hash, last = sql.NullString{String: e.Hash, Valid: true}, sql.NullString{String: e.LastEight, Valid: true}
	}
	return []any{e.PublisherID, e.OwnerID, e.Issuer, e.Subject, e.Repository, e.Workflow, e.RunID, e.SHA, e.Ref,
		e.Direct, hash, last, e.CreatedAt.UnixMicro(), e.ExpiresAt.UnixMicro()}
}

// ExchangeInsertCols name the columns of ExchangeArgs.
const ExchangeInsertCols = `publisher_id, owner_id, issuer, subject, repository, workflow, run_id, sha, ref, direct, hash, last_eight, created_at, expires_at`

// Publications reads rows of a file id followed by ExchangeCols, by file id.
func Publications(rows *sql.Rows) (map[int64]*depot.PublisherExchange, error) {
	defer rows.Close()
	out := map[int64]*depot.PublisherExchange{}
	for rows.Next() {
		var fileID int64
		e, err := exchange(rows, &fileID)
		if err != nil {
			return nil, err
		}
		out[fileID] = e
	}
	return out, rows.Err()
}
