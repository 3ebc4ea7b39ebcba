package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

const publisherFrom = ` FROM trusted_publishers t JOIN owners o ON o.id = t.owner_id`

// CreateTrustedPublisher implements depot.PublisherStore.
func (s *Store) CreateTrustedPublisher(ctx context.Context, p *depot.TrustedPublisher) error {
	claims, packages, err := sqlrow.PublisherJSON(p)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO trusted_publishers (owner_id, issuer, audience, claims, packages, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, p.OwnerID, p.Issuer, p.Audience, claims, packages, micros(p.CreatedAt)).Scan(&p.ID)
	})
}

// TrustedPublishers implements depot.PublisherStore.
func (s *Store) TrustedPublishers(ctx context.Context, q depot.PublisherQuery) ([]*depot.TrustedPublisher, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.PublisherCols+publisherFrom+`
		WHERE (? = 0 OR t.owner_id = ?) AND (? = '' OR t.issuer = ?) ORDER BY t.id`, q.OwnerID, q.OwnerID, q.Issuer, q.Issuer)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Publisher)
}

// TrustedPublisherByID implements depot.PublisherStore.
func (s *Store) TrustedPublisherByID(ctx context.Context, id int64) (*depot.TrustedPublisher, error) {
	p, err := sqlrow.Publisher(s.r.QueryRowContext(ctx, `SELECT `+sqlrow.PublisherCols+publisherFrom+` WHERE t.id = ?`, id))
	return p, translate(err)
}

// DeleteTrustedPublisher implements depot.PublisherStore.
func (s *Store) DeleteTrustedPublisher(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM trusted_publishers WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return depot.ErrNotFound
		}
		return nil
	})
}

// UseTokenID implements depot.PublisherStore. SQLite's single writer
// orders concurrent calls; the primary key makes the second insert a no-op.
func (s *Store) UseTokenID(ctx context.Context, issuer, jti string, expires, now time.Time) (bool, error) {
	fresh := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_used_jtis WHERE expires_at <= ?`, micros(now)); err != nil {
			return fmt.Errorf("prune used jtis: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oidc_used_jtis (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			issuer, jti, micros(expires))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh && err == nil, err
}

// CreatePublisherExchange implements depot.PublisherStore.
func (s *Store) CreatePublisherExchange(ctx context.Context, e *depot.PublisherExchange) error {
	args := sqlrow.ExchangeArgs(e)
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO publisher_exchanges (`+sqlrow.ExchangeInsertCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, args...).Scan(&e.ID)
	})
}

// PublisherTokensByLastEight implements depot.PublisherStore.
func (s *Store) PublisherTokensByLastEight(ctx context.Context, lastEight string) ([]*depot.PublisherExchange, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.ExchangeCols+` FROM publisher_exchanges WHERE last_eight = ?`, lastEight)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Exchange)
}

// PublisherExchanges implements depot.PublisherStore.
func (s *Store) PublisherExchanges(ctx context.Context, ownerID int64, limit int) ([]*depot.PublisherExchange, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.ExchangeCols+` FROM publisher_exchanges WHERE owner_id = ? ORDER BY id DESC LIMIT ?`, ownerID, limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Exchange)
}

// FilePublications implements depot.PublisherStore.
func (s *Store) FilePublications(ctx context.Context, versionID int64) (map[int64]*depot.PublisherExchange, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT fp.file_id, `+sqlrow.ExchangeColsOf("e")+` FROM file_publications fp
		JOIN files f ON f.id = fp.file_id JOIN publisher_exchanges e ON e.id = fp.exchange_id WHERE f.version_id = ?`, versionID)
	if err != nil {
		return nil, err
	}
	return sqlrow.Publications(rows)
}

// recordPublication links a file to the exchange whose token uploaded it.
func recordPublication(ctx context.Context, tx *sql.Tx, fileID, exchangeID int64) error {
	if exchangeID == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO file_publications (file_id, exchange_id) VALUES (?, ?)`, fileID, exchangeID); err != nil {
		return fmt.Errorf("record publication: %w", err)
	}
	return nil
}
