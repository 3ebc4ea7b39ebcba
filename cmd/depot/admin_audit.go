package main

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/depotapi"
	"github.com/urfave/cli/v3"
)

// auditCommand is `depot admin audit`: the audit log as JSON lines, one
// event per line, newest first unless --oldest-first, as GET
// /api/depot/audit answers them.
func auditCommand(stdout io.Writer, sub subCommand) *cli.Command {
	return sub("audit", "print the audit log as JSON lines (one event per line, newest first)", []cli.Flag{
		&cli.StringFlag{Name: "owner", Usage: "only events of this user or organization"},
		&cli.StringFlag{Name: "actor", Usage: "only events by this user (or system actor, e.g. \"admin CLI\")"},
		&cli.StringFlag{Name: "action", Usage: "only this action (e.g. file.upload) or family (e.g. token)"},
		&cli.StringFlag{Name: "since", Usage: "only events since this time (RFC 3339, YYYY-MM-DD) or age (e.g. 36h, 7d)"},
		&cli.StringFlag{Name: "until", Usage: "only events before this time or age"},
		&cli.IntFlag{Name: "limit", Value: depot.DefaultAuditLimit, Usage: "most events to print (0: all)"},
		&cli.BoolFlag{Name: "oldest-first", Usage: "print the oldest events first"},
	}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
		v := url.Values{}
		for _, name := range []string{"owner", "actor", "action", "since", "until"} {
			if s := cmd.String(name); s != "" {
				v.Set(name, s)
			}
		}
		if cmd.Bool("oldest-first") {
			v.Set("order", "oldest")
		}
		limit := int(cmd.Int("limit"))
		if limit < 0 {
			return usageError("--limit: %d is negative", limit)
		}
		q, err := depotapi.ParseAuditQuery(v, time.Now())
		if err != nil {
			return usageError("%v", err)
		}
		enc := json.NewEncoder(stdout)
		// Pages of at most MaxAuditLimit, keyset by id, until limit.
		for printed := 0; limit == 0 || printed < limit; {
			q.Limit = depot.MaxAuditLimit
			if limit > 0 {
				q.Limit = min(q.Limit, limit-printed)
			}
			evs, err := svc.AdminAuditLog(ctx, q)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if err := enc.Encode(depotapi.AuditEventOf(e)); err != nil {
					return err
				}
			}
			printed += len(evs)
			if len(evs) < q.Limit {
				return nil
			}
			if last := evs[len(evs)-1].ID; q.Oldest {
				q.After = last
			} else {
				q.Before = last
			}
		}
		return nil
	})
}
