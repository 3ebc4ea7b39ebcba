package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// CreateCleanupRule implements depot.CleanupRuleStore.
func (s *Store) CreateCleanupRule(ctx context.Context, r *depot.CleanupRule) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO cleanup_rules (`+strings.SplitN(sqlrow.CleanupRuleCols, ", ", 2)[1]+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, sqlrow.CleanupRuleArgs(r)...).Scan(&r.ID)
	})
}

// CleanupRule implements depot.CleanupRuleStore.
func (s *Store) CleanupRule(ctx context.Context, id int64) (*depot.CleanupRule, error) {
	r, err := sqlrow.CleanupRule(s.r.QueryRowContext(ctx, `SELECT `+sqlrow.CleanupRuleCols+` FROM cleanup_rules WHERE id = ?`, id))
	return r, translate(err)
}

// ListCleanupRules implements depot.CleanupRuleStore.
func (s *Store) ListCleanupRules(ctx context.Context, ownerID int64) ([]*depot.CleanupRule, error) {
	q, args := `SELECT `+sqlrow.CleanupRuleCols+` FROM cleanup_rules WHERE owner_id = ? ORDER BY type, id`, []any{ownerID}
	if ownerID == 0 {
		q, args = `SELECT `+sqlrow.CleanupRuleCols+` FROM cleanup_rules WHERE enabled = 1 ORDER BY owner_id, type, id`, nil
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.CleanupRule)
}

// UpdateCleanupRule implements depot.CleanupRuleStore.
func (s *Store) UpdateCleanupRule(ctx context.Context, r *depot.CleanupRule) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		a := sqlrow.CleanupRuleArgs(r)
		return sqlrow.Affected(tx.ExecContext(ctx, `UPDATE cleanup_rules SET type = ?, enabled = ?, keep_count = ?, keep_pattern = ?, remove_days = ?,
			remove_pattern = ?, match_full_name = ?, sort_order = ?, exclude_prereleases = ?, not_downloaded_days = ?, updated_at = ? WHERE id = ?`,
			append(append(a[1:11:11], a[12]), r.ID)...))
	})
}

// DeleteCleanupRule implements depot.CleanupRuleStore.
func (s *Store) DeleteCleanupRule(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `DELETE FROM cleanup_rules WHERE id = ?`, id))
	})
}

// CleanupPackages implements depot.CleanupRuleStore: a page of packages,
// then all their versions in one query (versions_package index), in one
// read transaction.
func (s *Store) CleanupPackages(ctx context.Context, ownerID int64, typ depot.PackageType, afterID int64, limit int) ([]*depot.CleanupPackage, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlrow.CleanupPackageCols+` FROM packages WHERE owner_id = ? AND type = ? AND id > ? ORDER BY id LIMIT ?`,
		ownerID, typ, afterID, limit)
	if err != nil {
		return nil, err
	}
	pkgs, err := sqlrow.All(rows, sqlrow.CleanupPackage)
	if err != nil || len(pkgs) == 0 {
		return pkgs, err
	}
	byID := make(map[int64]*depot.CleanupPackage, len(pkgs))
	for _, p := range pkgs {
		byID[p.Package.ID] = p
	}
	rows, err = tx.QueryContext(ctx, `SELECT `+sqlrow.CleanupVersionCols+` FROM versions WHERE package_id BETWEEN ? AND ? AND owner_id = ? ORDER BY package_id, id`,
		pkgs[0].Package.ID, pkgs[len(pkgs)-1].Package.ID, ownerID)
	if err != nil {
		return nil, err
	}
	return pkgs, sqlrow.CleanupVersions(rows, byID)
}

// StartCleanupPass implements depot.CleanupRuleStore. SQLite's single
// writer serialises the check and the insert.
func (s *Store) StartCleanupPass(ctx context.Context, p *depot.CleanupPass) (bool, error) {
	started := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var busy int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cleanup_passes WHERE slot = ? OR (finished_at IS NULL AND lease_until > ?)`,
			p.Slot, micros(p.StartedAt)).Scan(&busy); err != nil || busy > 0 {
			return err
		}
		started = true
		return tx.QueryRowContext(ctx, `INSERT INTO cleanup_passes (slot, holder, started_at, lease_until) VALUES (?, ?, ?, ?) RETURNING id`,
			p.Slot, p.Holder, micros(p.StartedAt), micros(p.LeaseUntil)).Scan(&p.ID)
	})
	return started && err == nil, err
}

// ExtendCleanupPass implements depot.CleanupRuleStore.
func (s *Store) ExtendCleanupPass(ctx context.Context, id int64, until time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `UPDATE cleanup_passes SET lease_until = ? WHERE id = ? AND finished_at IS NULL`, micros(until), id))
	})
}

// FinishCleanupPass implements depot.CleanupRuleStore.
func (s *Store) FinishCleanupPass(ctx context.Context, id int64, finished time.Time, deleted int64, errText string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `UPDATE cleanup_passes SET finished_at = ?, deleted = ?, error = ? WHERE id = ?`, micros(finished), deleted, errText, id))
	})
}

// ListCleanupPasses implements depot.CleanupRuleStore.
func (s *Store) ListCleanupPasses(ctx context.Context, limit int) ([]*depot.CleanupPass, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.CleanupPassCols+` FROM cleanup_passes ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.CleanupPass)
}
