package sqlrow

import (
	"context"
	"database/sql"
)

// Page runs a listing's two queries in tx, so they agree: count, for the
// total over all pages, then page, whose rows scan reads.
func Page[T any](ctx context.Context, tx *sql.Tx, count string, countArgs []any, page string, pageArgs []any, scan func(Scanner) (T, error)) ([]T, int64, error) {
	var total int64
	if err := tx.QueryRowContext(ctx, count, countArgs...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, page, pageArgs...)
	if err != nil {
		return nil, 0, err
	}
	out, err := All(rows, scan)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// All reads every row of rows with scan and closes rows.
func All[T any](rows *sql.Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
