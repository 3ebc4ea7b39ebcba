package postgres

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
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`, sqlrow.CleanupRuleArgs(r)...).Scan(&r.ID)
	})
}

// CleanupRule implements depot.CleanupRuleStore.
func (s *Store) CleanupRule(ctx context.Context, id int64) (*depot.CleanupRule, error) {
	r, err := sqlrow.CleanupRule(s.db.QueryRowContext(ctx, `SELECT `+sqlrow.CleanupRuleCols+` FROM cleanup_rules WHERE id = $1`, id))
	return r, translate(err)
}

// ListCleanupRules implements depot.CleanupRuleStore.
func (s *Store) ListCleanupRules(ctx context.Context, ownerID int64) ([]*depot.CleanupRule, error) {
	q, args := `SELECT `+sqlrow.CleanupRuleCols+` FROM cleanup_rules WHERE owner_id = $1 ORDER BY type, id`, []any{ownerID}
	if ownerID == 0 {
		q, args = `SELECT `+sqlrow.CleanupRuleCols+` FROM cleanup_rules WHERE enabled ORDER BY owner_id, type, id`, nil
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.CleanupRule)
}

// UpdateCleanupRule implements depot.CleanupRuleStore.
func (s *Store) UpdateCleanupRule(ctx context.Context, r *depot.CleanupRule) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		a := sqlrow.CleanupRuleArgs(r)
		return sqlrow.Affected(tx.ExecContext(ctx, `UPDATE cleanup_rules SET type = $1, enabled = $2, keep_count = $3, keep_pattern = $4, remove_days = $5,
			remove_pattern = $6, match_full_name = $7, sort_order = $8, exclude_prereleases = $9, not_downloaded_days = $10, updated_at = $11 WHERE id = $12`,
			append(append(a[1:11:11], a[12]), r.ID)...))
	})
}

// DeleteCleanupRule implements depot.CleanupRuleStore.
func (s *Store) DeleteCleanupRule(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `DELETE FROM cleanup_rules WHERE id = $1`, id))
	})
}

// CleanupPackages implements depot.CleanupRuleStore: a page of packages,
// then all their versions in one query (versions_package index), in one
// read transaction.
func (s *Store) CleanupPackages(ctx context.Context, ownerID int64, typ depot.PackageType, afterID int64, limit int) ([]*depot.CleanupPackage, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlrow.CleanupPackageCols+` FROM packages WHERE owner_id = $1 AND type = $2 AND id > $3 ORDER BY id LIMIT $4`,
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
	rows, err = tx.QueryContext(ctx, `SELECT `+sqlrow.CleanupVersionCols+` FROM versions WHERE package_id BETWEEN $1 AND $2 AND owner_id = $3 ORDER BY package_id, id`,
		pkgs[0].Package.ID, pkgs[len(pkgs)-1].Package.ID, ownerID)
	if err != nil {
		return nil, err
	}
	return pkgs, sqlrow.CleanupVersions(rows, byID)
}

// StartCleanupPass implements depot.CleanupRuleStore. A transaction-scoped
// advisory lock serialises the check and the insert of every replica.
func (s *Store) StartCleanupPass(ctx context.Context, p *depot.CleanupPass) (bool, error) {
	started := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, cleanupLockKey); err != nil {
			return err
		}
		var busy int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cleanup_passes WHERE slot = $1 OR (finished_at IS NULL AND lease_until > $2)`,
			p.Slot, micros(p.StartedAt)).Scan(&busy); err != nil || busy > 0 {
			return err
		}
		started = true
		return tx.QueryRowContext(ctx, `INSERT INTO cleanup_passes (slot, holder, started_at, lease_until) VALUES ($1, $2, $3, $4) RETURNING id`,
			p.Slot, p.Holder, micros(p.StartedAt), micros(p.LeaseUntil)).Scan(&p.ID)
	})
	return started && err == nil, err
}

// ExtendCleanupPass implements depot.CleanupRuleStore.
func (s *Store) ExtendCleanupPass(ctx context.Context, id int64, until time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `UPDATE cleanup_passes SET lease_until = $1 WHERE id = $2 AND finished_at IS NULL`, micros(until), id))
	})
}

// FinishCleanupPass implements depot.CleanupRuleStore.
func (s *Store) FinishCleanupPass(ctx context.Context, id int64, finished time.Time, deleted int64, errText string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return sqlrow.Affected(tx.ExecContext(ctx, `UPDATE cleanup_passes SET finished_at = $1, deleted = $2, error = $3 WHERE id = $4`, micros(finished), deleted, errText, id))
	})
}

// ListCleanupPasses implements depot.CleanupRuleStore.
func (s *Store) ListCleanupPasses(ctx context.Context, limit int) ([]*depot.CleanupPass, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.CleanupPassCols+` FROM cleanup_passes ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.CleanupPass)
}

// cleanupLockKey is the advisory lock key of StartCleanupPass ("depotcln").
const cleanupLockKey int64 = 0x6465706f74636c6e
