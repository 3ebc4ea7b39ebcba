package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/depotapi"
	"github.com/urfave/cli/v3"
)

// cleanupAdminCommands are `admin cleanup` (preview with --dry-run, else
// apply) and `admin cleanup-rule add|ls|set|rm`.
func cleanupAdminCommands(stdout io.Writer, sub subCommand, onUsage cli.OnUsageErrorFunc) []*cli.Command {
	owner := &cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true}
	id := &cli.Int64Flag{Name: "id", Usage: "rule id (admin cleanup-rule ls)", Required: true}
	ruleFlags := []cli.Flag{
		&cli.StringFlag{Name: "type", Value: string(depot.TypeGeneric), Usage: "package type the rule applies to"},
		&cli.BoolFlag{Name: "enabled", Value: true, Usage: "the scheduled cleanup applies the rule (--enabled=false keeps it for previews)"},
		&cli.IntFlag{Name: "keep-count", Usage: "keep the first N versions of each package (in --order)"},
		&cli.StringFlag{Name: "keep-pattern", Usage: "keep versions matching this RE2 pattern (case-insensitive, anchored)"},
		&cli.IntFlag{Name: "remove-days", Usage: "keep versions created less than N days ago"},
		&cli.StringFlag{Name: "remove-pattern", Usage: "remove only versions matching this RE2 pattern (case-insensitive, anchored)"},
		&cli.BoolFlag{Name: "match-full-name", Usage: "match the patterns against package/version instead of the version"},
		&cli.StringFlag{Name: "order", Value: string(depot.CleanupOrderCreated), Usage: "rank for --keep-count: created (newest first, Gitea's) or semver (highest first, others after)"},
		&cli.BoolFlag{Name: "exclude-prereleases", Usage: "prereleases neither count towards nor are kept by --keep-count"},
		&cli.IntFlag{Name: "not-downloaded-days", Usage: "keep versions downloaded (else created) less than N days ago (GitLab's criterion); 0 is off"},
	}
	// apply copies the flags given on the command line onto r.
	apply := func(cmd *cli.Command, r *depot.CleanupRule) {
		for _, f := range []struct {
			name string
			set  func()
		}{
			{"type", func() { r.Type = depot.PackageType(cmd.String("type")) }},
			{"enabled", func() { r.Enabled = cmd.Bool("enabled") }},
			{"keep-count", func() { r.KeepCount = int(cmd.Int("keep-count")) }},
			{"keep-pattern", func() { r.KeepPattern = cmd.String("keep-pattern") }},
			{"remove-days", func() { r.RemoveDays = int(cmd.Int("remove-days")) }},
			{"remove-pattern", func() { r.RemovePattern = cmd.String("remove-pattern") }},
			{"match-full-name", func() { r.MatchFullName = cmd.Bool("match-full-name") }},
			{"order", func() { r.Order = depot.CleanupOrder(cmd.String("order")) }},
			{"exclude-prereleases", func() { r.ExcludePrereleasesFromKeepCount = cmd.Bool("exclude-prereleases") }},
			{"not-downloaded-days", func() { r.NotDownloadedDays = int(cmd.Int("not-downloaded-days")) }},
		} {
			if cmd.IsSet(f.name) {
				f.set()
			}
		}
	}
	printRule := func(r *depot.CleanupRule) error { return json.NewEncoder(stdout).Encode(depotapi.CleanupRuleOf(r)) }
	return []*cli.Command{
		{
			Name:  "cleanup",
			Usage: "apply an owner's enabled cleanup rules now (with --dry-run, print what they would delete)",
			Description: "Deletes through the same path as a user's DELETE: webhooks fire, blobs no file references any more are removed, " +
				"and versions sealed by the owner's immutable_versions setting are kept. Each version is its own transaction.",
			Flags: append(append(dataFlags(), storageFlags()...), owner,
				&cli.Int64Flag{Name: "rule", Usage: "apply only this rule (enabled or not); default: every enabled rule"},
				&cli.BoolFlag{Name: "dry-run", Usage: "delete nothing; print exactly what would be deleted"},
				&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON (the API's body)"},
			),
			OnUsageError: onUsage,
			Action: func(ctx context.Context, cmd *cli.Command) error {
				c, err := storesConfig(cmd)
				if err != nil {
					return err
				}
				store, err := openStore(ctx, c)
				if err != nil {
					return err
				}
				defer store.Close()
				blobs, err := openBlobs(ctx, c)
				if err != nil {
					return err
				}
				defer closeBlobs(blobs)
				svc, err := newService(c, store, blobs, slog.New(slog.DiscardHandler), nil)
				if err != nil {
					return err
				}
				defer svc.Close()
				dry := cmd.Bool("dry-run")
				f := svc.ApplyCleanup
				if dry {
					f = svc.PreviewCleanup
				}
				p, err := f(ctx, cliActor, cmd.String("owner"), cmd.Int64("rule"))
				if err != nil {
					return err
				}
				if cmd.Bool("json") {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(depotapi.CleanupPlanOf(p, dry))
				}
				return printPlan(stdout, p, dry)
			},
		},
		{Name: "cleanup-rule", Usage: "manage cleanup (retention) rules, one per owner and package type", Commands: []*cli.Command{
			sub("add", "add a rule and print it as JSON", append([]cli.Flag{owner}, ruleFlags...), func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				r := depot.CleanupRule{Enabled: true}
				apply(cmd, &r)
				got, err := svc.CreateCleanupRule(ctx, cliActor, cmd.String("owner"), r)
				if err != nil {
					return err
				}
				return printRule(got)
			}),
			sub("ls", "list an owner's rules", []cli.Flag{owner, &cli.BoolFlag{Name: "json", Usage: "one JSON object per line"}}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				rules, err := svc.CleanupRules(ctx, cliActor, cmd.String("owner"))
				if err != nil {
					return err
				}
				if cmd.Bool("json") {
					for _, r := range rules {
						if err := printRule(r); err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTYPE\tENABLED\tKEEP COUNT\tKEEP PATTERN\tREMOVE DAYS\tREMOVE PATTERN\tFULL NAME\tORDER\tNO PRERELEASES\tNOT DOWNLOADED DAYS")
				for _, r := range rules {
					fmt.Fprintf(tw, "%d\t%s\t%v\t%d\t%q\t%d\t%q\t%v\t%s\t%v\t%d\n", r.ID, r.Type, r.Enabled, r.KeepCount, r.KeepPattern, r.RemoveDays,
						r.RemovePattern, r.MatchFullName, r.Order, r.ExcludePrereleasesFromKeepCount, r.NotDownloadedDays)
				}
				return tw.Flush()
			}),
			sub("set", "change the given fields of a rule and print it as JSON", append([]cli.Flag{owner, id}, ruleFlags...), func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				r, err := svc.CleanupRuleOf(ctx, cliActor, cmd.String("owner"), cmd.Int64("id"))
				if err != nil {
					return err
				}
				apply(cmd, r)
				got, err := svc.UpdateCleanupRule(ctx, cliActor, cmd.String("owner"), r.ID, *r)
				if err != nil {
					return err
				}
				return printRule(got)
			}),
			sub("rm", "delete a rule", []cli.Flag{owner, id}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				if err := svc.DeleteCleanupRule(ctx, cliActor, cmd.String("owner"), cmd.Int64("id")); err != nil {
					return err
				}
				_, err := fmt.Fprintf(stdout, "deleted cleanup rule %d\n", cmd.Int64("id"))
				return err
			}),
		}},
	}
}

// printPlan prints a plan as text: a line per version deleted (or, with
// dryRun, to be deleted), one per version kept as immutable, and a
// summary.
func printPlan(w io.Writer, p *depot.CleanupPlan, dryRun bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	var n int
	var bytes int64
	for _, it := range p.Delete {
		what := verb
		if it.Err != "" {
			what = "FAILED"
		} else {
			n++
			bytes += it.Bytes
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\trule %d\t%d files\t%d bytes\t%s\n", what, it.Type, it.Package, it.Version.Version, it.RuleID, len(it.Files), it.Bytes, it.Err)
	}
	for _, it := range p.Immutable {
		fmt.Fprintf(tw, "kept: immutable\t%s\t%s\t%s\trule %d\t%d files\t%d bytes\t\n", it.Type, it.Package, it.Version.Version, it.RuleID, len(it.Files), it.Bytes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %s %d versions (%d bytes) by %d rules; kept %d, %d of them immutable\n",
		p.Owner.Name, verb, n, bytes, len(p.Rules), p.Kept+int64(len(p.Immutable)), len(p.Immutable))
	return err
}
