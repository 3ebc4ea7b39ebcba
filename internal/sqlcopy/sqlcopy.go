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
// run again. Each table is copied in one transaction. The destination's id
// counter (a PostgreSQL identity sequence, SQLite's sqlite_sequence) is moved
// past the copied keys and past every id the source ever gave, deleted rows'
// too, so no id is given twice.
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
	if hasID(cols) {
		used, err := highestID(ctx, from.reader(), from.Dialect, table)
		if err != nil {
			return err
		}
		if err := raiseIDCounter(ctx, tx, to.Dialect, table, used); err != nil {
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
// column takes: SQLite keeps booleans as integers, PostgreSQL as booleans;
// an empty BLOB reads as a nil []byte (a NULL column reads as a nil any),
// which drivers would write as NULL, so it is made an empty one.
func convert(v any, c column, to Dialect) any {
	switch x := v.(type) {
	case []byte:
		if x == nil {
			return []byte{}
		}
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

func hasID(cols []column) bool {
	for _, c := range cols {
		if c.name == "id" {
			return true
		}
	}
	return false
}

// execer is what raiseIDCounter needs of a database or a transaction.
type execer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// highestID returns the highest id table's counter ever gave (or, without
// a counter, its largest id): deleted rows' ids count, since a client may
// still hold one.
func highestID(ctx context.Context, db querier, d Dialect, table string) (int64, error) {
	var top int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) FROM `+table).Scan(&top); err != nil {
		return 0, err
	}
	var given sql.NullInt64
	switch d {
	case SQLite:
		// sqlite_sequence exists once a table is AUTOINCREMENT (migration 00007).
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'`).Scan(&n); err != nil || n == 0 {
			return top, err
		}
		if err := db.QueryRowContext(ctx, `SELECT max(seq) FROM sqlite_sequence WHERE name = ?`, table).Scan(&given); err != nil {
			return 0, err
		}
	case Postgres:
		var seq sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, 'id')`, table).Scan(&seq); err != nil {
			return 0, err
		}
		if !seq.Valid {
			return top, nil
		}
		if err := db.QueryRowContext(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM `+seq.String).Scan(&given); err != nil {
			return 0, err
		}
	}
	return max(top, given.Int64), nil
}

// raiseIDCounter moves table's id counter so that the next id is above
// used and above every id the table holds.
func raiseIDCounter(ctx context.Context, tx execer, d Dialect, table string, used int64) error {
	switch d {
	case Postgres:
		var seq sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, 'id')`, table).Scan(&seq); err != nil {
			return err
		}
		if !seq.Valid {
			return nil
		}
		_, err := tx.ExecContext(ctx, `SELECT setval($1, GREATEST($2, (SELECT COALESCE(max(id), 0) FROM `+table+`)) + 1, false)`, seq.String, used)
		return err
	case SQLite:
		var auto int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ? AND sql LIKE '%AUTOINCREMENT%'`, table).Scan(&auto); err != nil || auto == 0 {
			return err
		}
		// Inserting rows with ids has set the counter to their maximum.
		res, err := tx.ExecContext(ctx, `UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?`, used, table)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, table, used)
		return err
	}
	return nil
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
