// Package sqlcopy copies depot's tables between two SQL databases that hold
// the same schema in different dialects (SQLite and PostgreSQL), for
// `depot admin migrate`. It knows the dialects, not depot's rules: rows are
// copied as they are, primary keys included, so every reference between
// tables stays valid.
package sqlcopy

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Dialect is a database's SQL dialect.
type Dialect int

// The dialects depot stores metadata in.
const (
	SQLite Dialect = iota
	Postgres
)

// DB is a database and its dialect.
type DB struct {
	DB      *sql.DB
	Dialect Dialect
	// Snapshot, when set on a source, is a transaction of DB that every
	// read goes through, so that all tables are read from one snapshot
	// (PostgreSQL REPEATABLE READ) while other clients write.
	Snapshot *sql.Tx
}

// querier is what a source is read through: the database or a snapshot.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db DB) reader() querier {
	if db.Snapshot != nil {
		return db.Snapshot
	}
	return db.DB
}

// Progress is told how many rows of a table were copied so far.
type Progress func(table string, copied, total int64)

// Copy copies every row of tables, in that order (parents before children),
// from one database to the other. A row whose primary key the destination
// already holds is left as it is, so a Copy that was interrupted can simply
// run again. Each table is copied in one transaction. Identity sequences of
// a PostgreSQL destination are moved past the copied keys.
func Copy(ctx context.Context, from, to DB, tables []string, progress Progress) error {
	for _, table := range tables {
		if err := copyTable(ctx, from, to, table, progress); err != nil {
			return fmt.Errorf("copy table %s: %w", table, err)
		}
	}
	return nil
}

type column struct {
	name    string
	boolean bool // the destination stores it as a boolean (PostgreSQL)
}

// columns returns the destination's columns of table.
func columns(ctx context.Context, db DB, table string) ([]column, error) {
	var q string
	switch db.Dialect {
	case SQLite:
		q = `SELECT name, lower(type) FROM pragma_table_info(?) ORDER BY cid`
	case Postgres:
		q = `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rows, err := db.DB.QueryContext(ctx, q, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		cols = append(cols, column{name: name, boolean: typ == "boolean"})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("the destination has no table %s", table)
	}
	return cols, nil
}

func placeholder(d Dialect, i int) string {
	if d == Postgres {
		return fmt.Sprintf("$%d", i+1)
	}
	return "?"
}

func copyTable(ctx context.Context, from, to DB, table string, progress Progress) error {
	cols, err := columns(ctx, to, table)
	if err != nil {
		return err
	}
	names := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		marks[i] = placeholder(to.Dialect, i)
	}
	var total int64
	if err := from.reader().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&total); err != nil {
		return err
	}
	rows, err := from.reader().QueryContext(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+table+" ORDER BY 1")
	if err != nil {
		return err
	}
	defer rows.Close()

	tx, err := to.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	override := ""
	if to.Dialect == Postgres {
		override = " OVERRIDING SYSTEM VALUE" // keep the source's identity keys
	}
	ins, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" ("+strings.Join(names, ", ")+")"+override+
		" VALUES ("+strings.Join(marks, ", ")+") ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	defer ins.Close()

	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, c := range cols {
			vals[i] = convert(vals[i], c, to.Dialect)
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return err
		}
		n++
		if progress != nil && n%10000 == 0 {
			progress(table, n, total)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if to.Dialect == Postgres {
		if err := resetIdentity(ctx, tx, table, cols); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if progress != nil {
		progress(table, n, total)
	}
	return nil
}

// convert turns a value read from the source into what the destination's
// column takes: SQLite keeps booleans as integers, PostgreSQL as booleans.
func convert(v any, c column, to Dialect) any {
	switch x := v.(type) {
	case int64:
		if c.boolean {
			return x != 0
		}
	case bool:
		if to == SQLite {
			if x {
				return int64(1)
			}
			return int64(0)
		}
	}
	return v
}

// resetIdentity moves the identity sequence of table's id column, if it has
// one, past the largest id, so rows inserted later get fresh keys.
func resetIdentity(ctx context.Context, tx *sql.Tx, table string, cols []column) error {
	hasID := false
	for _, c := range cols {
		hasID = hasID || c.name == "id"
	}
	if !hasID {
		return nil
	}
	var seq sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, 'id')`, table).Scan(&seq); err != nil {
		return err
	}
	if !seq.Valid {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT setval($1, COALESCE((SELECT max(id) FROM `+table+`), 0) + 1, false)`, seq.String)
	return err
}

// Tables lists db's tables (other than goose's version table), for checking
// that a list passed to Copy names them all.
func Tables(ctx context.Context, db DB) ([]string, error) {
	var q string
	switch db.Dialect {
	case SQLite:
		q = `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`
	case Postgres:
		q = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version' ORDER BY table_name`
	}
	rows, err := db.reader().QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}
