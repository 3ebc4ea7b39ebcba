package main

import (
	"context"
	"errors"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlcopy"
)

// Placeholders until internal/postgres and internal/s3blob land.
var errNotBuilt = errors.New("not built yet")

func parseS3URL(raw string) (struct{}, error) { return struct{}{}, errNotBuilt }

func openPostgres(ctx context.Context, url string) (depot.Store, error) { return nil, errNotBuilt }

func openS3(ctx context.Context, c Config) (blobBackend, error) { return nil, errNotBuilt }

func postgresDB(s depot.Store) (sqlcopy.DB, error) { return sqlcopy.DB{}, errNotBuilt }
