package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/urfave/cli/v3"
)

// quotaAdminCommands are `admin quota set` and `admin quota show`: a site
// admin's per-owner override of the serve limits.
func quotaAdminCommands(stdout io.Writer, sub subCommand) []*cli.Command {
	show := func(r *depot.UsageReport) error {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(quotaJSON(r))
	}
	limitFlag := func(name, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Usage: usage + "; -1 lifts the limit, \"default\" goes back to the serve setting (unchanged when not given)"}
	}
	return []*cli.Command{{Name: "quota", Usage: "per-owner overrides of the package limits (site admins bypass them)", Commands: []*cli.Command{
		sub("set", "override an owner's limits and print its usage and override as JSON", []cli.Flag{
			&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
			limitFlag("max-versions", "most versions (--limit-total-owner-count)"),
			limitFlag("max-size", "most bytes, e.g. 10GiB (--limit-total-owner-size)"),
			limitFlag("max-file-size", "largest generic file, e.g. 1GiB (--limit-size-generic)"),
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			// Parse every flag before touching the store: a bad value is
			// a usage error (exit 2) whatever the owner.
			type change struct {
				set bool
				v   *int64
			}
			var changes [3]change
			for i, f := range []struct {
				name  string
				count bool
			}{{"max-versions", true}, {"max-size", false}, {"max-file-size", false}} {
				if !cmd.IsSet(f.name) {
					continue
				}
				changes[i].set = true
				if v := cmd.String(f.name); v != "default" {
					n, err := parseLimit(v, f.count)
					if err != nil {
						return usageError("--%s: %v", f.name, err)
					}
					changes[i].v = &n
				}
			}
			cur, err := svc.AdminOwnerUsage(ctx, cmd.String("owner"))
			if err != nil {
				return err
			}
			q := cur.Override
			for i, dst := range []**int64{&q.MaxVersions, &q.MaxSize, &q.MaxFileSize} {
				if changes[i].set {
					*dst = changes[i].v
				}
			}
			r, err := svc.AdminSetOwnerQuota(ctx, cmd.String("owner"), q)
			if err != nil {
				return err
			}
			return show(r)
		}),
		sub("show", "print an owner's usage and quota override as JSON", []cli.Flag{
			&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			r, err := svc.AdminOwnerUsage(ctx, cmd.String("owner"))
			if err != nil {
				return err
			}
			return show(r)
		}),
	}}, {Name: "owner-settings", Usage: "an owner's settings: immutable versions", Commands: []*cli.Command{
		sub("set", "change an owner's settings and print them as JSON", []cli.Flag{
			&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
			&cli.BoolFlag{Name: "immutable-versions", Usage: "versions' files cannot be added, replaced or deleted (except by site admins) once the version is --immutable-grace old"},
			&cli.DurationFlag{Name: "immutable-grace", Usage: "how long after its first upload a version stays open, e.g. 15m (whole seconds, at most 720h)"},
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			grace := cmd.Duration("immutable-grace")
			if grace < 0 || grace > depot.MaxImmutableGrace || grace%time.Second != 0 {
				return usageError("--immutable-grace: %s is not whole seconds between 0 and %s", grace, depot.MaxImmutableGrace)
			}
			set, err := svc.AdminSetOwnerSettings(ctx, cmd.String("owner"), depot.OwnerSettings{ImmutableVersions: cmd.Bool("immutable-versions"), ImmutableGrace: grace})
			if err != nil {
				return err
			}
			return printSettings(stdout, cmd.String("owner"), set)
		}),
		sub("show", "print an owner's settings as JSON", []cli.Flag{
			&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			set, err := svc.AdminOwnerSettings(ctx, cmd.String("owner"))
			if err != nil {
				return err
			}
			return printSettings(stdout, cmd.String("owner"), set)
		}),
	}}}
}

func printSettings(w io.Writer, owner string, set *depot.OwnerSettings) error {
	return json.NewEncoder(w).Encode(map[string]any{
		"owner": owner, "immutable_versions": set.ImmutableVersions, "immutable_grace_seconds": int64(set.ImmutableGrace / time.Second),
	})
}

// ownerQuotaJSON is what `admin quota` prints: the usage and the override
// (null: the serve setting applies).
type ownerQuotaJSON struct {
	Owner       string `json:"owner"`
	Versions    int64  `json:"versions"`
	Bytes       int64  `json:"bytes"`
	MaxVersions *int64 `json:"max_versions"`
	MaxSize     *int64 `json:"max_size"`
	MaxFileSize *int64 `json:"max_file_size"`
}

func quotaJSON(r *depot.UsageReport) ownerQuotaJSON {
	return ownerQuotaJSON{Owner: r.Owner.Name, Versions: r.Usage.Versions, Bytes: r.Usage.Bytes,
		MaxVersions: r.Override.MaxVersions, MaxSize: r.Override.MaxSize, MaxFileSize: r.Override.MaxFileSize}
}
