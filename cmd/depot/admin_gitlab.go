package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/urfave/cli/v3"
)

type subCommand func(name, usage string, flags []cli.Flag, fn func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error) *cli.Command

// gitlabAdminCommands are the admin commands of the GitLab dialect: deploy
// tokens, job tokens and an owner's generic duplicate settings.
func gitlabAdminCommands(stdout io.Writer, sub subCommand) []*cli.Command {
	return []*cli.Command{
		{Name: "deploy-token", Usage: "manage GitLab deploy tokens", Commands: []*cli.Command{
			sub("create", "create a deploy token for a project (or every project of an owner) and print it", []cli.Flag{
				&cli.StringFlag{Name: "project", Usage: "project id or owner/project path"},
				&cli.StringFlag{Name: "owner", Usage: "owner whose every project the token covers (instead of --project)"},
				&cli.StringFlag{Name: "name", Usage: "token name", Required: true},
				&cli.StringFlag{Name: "scopes", Usage: "read_package_registry, write_package_registry (comma-separated)", Required: true},
				&cli.DurationFlag{Name: "expires-in", Usage: "lifetime, e.g. 720h; 0 means never"},
			}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				if (cmd.String("project") == "") == (cmd.String("owner") == "") {
					return usageError("give exactly one of --project and --owner")
				}
				scopes, err := depot.ParseScopes(cmd.String("scopes"))
				if err != nil {
					return usageError("--scopes: %v", err)
				}
				secret, _, err := svc.CreateProjectToken(ctx, depot.NewProjectToken{
					Kind: depot.KindDeployToken, Project: cmd.String("project"), Owner: cmd.String("owner"),
					Name: cmd.String("name"), Scopes: scopes, TTL: cmd.Duration("expires-in"),
				})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(stdout, secret)
				return err
			}),
			sub("list", "list an owner's deploy and job tokens", []cli.Flag{
				&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
			}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				tokens, err := svc.ListProjectTokens(ctx, cmd.String("owner"))
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tPROJECT\tNAME\tSCOPES\tEXPIRES")
				for _, t := range tokens {
					project, exp := "(all)", "never"
					if t.ProjectID != 0 {
						project = strconv.FormatInt(t.ProjectID, 10)
					}
					if t.ExpiresAt != nil {
						exp = t.ExpiresAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, project, t.Name, t.Scopes, exp)
				}
				return tw.Flush()
			}),
			revokeProjectToken(stdout, sub),
		}},
		{Name: "job-token", Usage: "manage GitLab CI job tokens", Commands: []*cli.Command{
			sub("create", "create a short-lived job token for a project and print it", []cli.Flag{
				&cli.StringFlag{Name: "project", Usage: "project id or owner/project path", Required: true},
				&cli.DurationFlag{Name: "ttl", Usage: "lifetime, e.g. 1h", Required: true},
				&cli.StringFlag{Name: "name", Usage: "token name (default: job-<time>)"},
			}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				secret, _, err := svc.CreateProjectToken(ctx, depot.NewProjectToken{
					Kind: depot.KindJobToken, Project: cmd.String("project"), Name: cmd.String("name"), TTL: cmd.Duration("ttl"),
				})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(stdout, secret)
				return err
			}),
			revokeProjectToken(stdout, sub),
		}},
		{Name: "package-settings", Usage: "an owner's package settings (GitLab's generic duplicates)", Commands: []*cli.Command{
			sub("set", "set whether generic packages may hold duplicate files", []cli.Flag{
				&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
				&cli.BoolFlag{Name: "generic-duplicates-allowed", Value: true, Usage: "allow duplicate generic files"},
				&cli.StringFlag{Name: "generic-duplicate-exception-regex", Usage: "names or versions for which the setting is reversed"},
			}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				return svc.SetPackageSettings(ctx, cmd.String("owner"), cmd.Bool("generic-duplicates-allowed"), cmd.String("generic-duplicate-exception-regex"))
			}),
			sub("show", "show an owner's package settings", []cli.Flag{
				&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
			}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				ps, err := svc.PackageSettings(ctx, cmd.String("owner"))
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdout, "generic_duplicates_allowed=%t\ngeneric_duplicate_exception_regex=%s\n", ps.GenericDuplicatesAllowed, ps.GenericDuplicateExceptionRegex)
				return err
			}),
		}},
	}
}

// revokeProjectToken is "revoke --id N" for deploy and job tokens (their
// ids are shown by deploy-token list).
func revokeProjectToken(stdout io.Writer, sub subCommand) *cli.Command {
	return sub("revoke", "delete a deploy or job token by id (see deploy-token list)", []cli.Flag{
		&cli.Int64Flag{Name: "id", Usage: "token id", Required: true},
	}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
		if err := svc.RevokeProjectToken(ctx, cmd.Int64("id")); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "revoked token %d\n", cmd.Int64("id"))
		return err
	})
}
