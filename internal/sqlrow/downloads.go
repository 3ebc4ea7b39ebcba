package sqlrow

import (
	"database/sql"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Counts reads rows of (id, count) into a map, for the stores' download
// counts; err is the query's, so a call wraps QueryContext directly.
func Counts(rows *sql.Rows, err error) (map[int64]int64, error) {
	if err != nil {
		return nil, err
	}
	type pair struct{ id, n int64 }
	ps, err := All(rows, func(sc Scanner) (pair, error) {
		var p pair
		err := sc.Scan(&p.id, &p.n)
		return p, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int64, len(ps))
	for _, p := range ps {
		out[p.id] = p.n
	}
	return out, nil
}

// DayCount reads a row of (day since the Unix epoch, count).
func DayCount(row Scanner) (depot.DayCount, error) {
	var day, n int64
	err := row.Scan(&day, &n)
	return depot.DayCount{Day: time.Unix(day*86400, 0).UTC(), Count: n}, err
}
