package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/urfave/cli/v3"
)

// adminCommand groups the administration commands. They open the same
// database as serve (SQLite's locks let them run while the server does).
func adminCommand(stdout, stderr io.Writer, onUsage cli.OnUsageErrorFunc) *cli.Command {
	// with wraps an action with the service it needs.
	with := func(fn func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error) cli.ActionFunc {
		return func(ctx context.Context, cmd *cli.Command) error {
			c, err := dataConfig(cmd)
			if err != nil {
				return err
			}
			store, err := openStore(ctx, c)
			if err != nil {
				return err
			}
			defer store.Close()
			svc, err := newService(c, store, nil, slog.New(slog.DiscardHandler), nil)
			if err != nil {
				return err
			}
			return fn(depot.WithAuditActor(ctx, depot.AuditActorAdminCLI), cmd, svc)
		}
	}
	str := func(name, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Usage: usage, Required: true}
	}
	sub := func(name, usage string, flags []cli.Flag, fn func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, Flags: append(dataFlags(), flags...), OnUsageError: onUsage, Action: with(fn)}
	}
	table := func(fn func(tw *tabwriter.Writer)) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fn(tw)
		return tw.Flush()
	}
	return &cli.Command{
		Name:  "admin",
		Usage: "administer users, organizations, projects and tokens",
		Commands: append([]*cli.Command{
			gcCommand(stdout, onUsage),
			migrateCommand(stdout, stderr, onUsage),
			{Name: "user", Usage: "manage users", Commands: []*cli.Command{
				sub("create", "create a user", []cli.Flag{
					str("username", "user name"), str("password", "password (8 to 72 bytes)"), str("email", "email address"),
					&cli.BoolFlag{Name: "admin", Usage: "make the user a site admin"},
				}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					u, err := svc.CreateUser(ctx, depot.NewUser{Username: cmd.String("username"), Password: cmd.String("password"), Email: cmd.String("email"), Admin: cmd.Bool("admin")})
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(stdout, "created user %s (id %d)\n", u.Name, u.ID)
					return err
				}),
				sub("list", "list users", nil, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					users, err := svc.ListUsers(ctx)
					if err != nil {
						return err
					}
					return table(func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tADMIN\tDISABLED\tCREATED")
						for _, u := range users {
							fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%t\t%s\n", u.ID, u.Name, u.Email, u.IsAdmin, u.Disabled, u.CreatedAt.Format(time.RFC3339))
						}
					})
				}),
			}},
			{Name: "org", Usage: "manage organizations", Commands: []*cli.Command{
				sub("create", "create an organization", []cli.Flag{
					str("name", "organization name"), str("owner", "user who becomes its first admin"),
					&cli.StringFlag{Name: "visibility", Value: "public", Usage: "public or private"},
				}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					vis, err := depot.ParseVisibility(cmd.String("visibility"))
					if err != nil {
						return usageError("--visibility: %v", err)
					}
					org, err := svc.CreateOrg(ctx, cmd.String("name"), cmd.String("owner"), vis)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(stdout, "created organization %s (id %d, %s)\n", org.Name, org.ID, org.Visibility)
					return err
				}),
				sub("add-member", "add a member or change its role", []cli.Flag{
					str("org", "organization name"), str("username", "user name"), str("role", "read, write or admin"),
				}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					role, err := depot.ParseRole(cmd.String("role"))
					if err != nil {
						return usageError("--role: %v", err)
					}
					if err := svc.SetMember(ctx, cmd.String("org"), cmd.String("username"), role); err != nil {
						return err
					}
					_, err = fmt.Fprintf(stdout, "%s is %s member of %s\n", cmd.String("username"), role, cmd.String("org"))
					return err
				}),
			}},
			{Name: "project", Usage: "manage projects (what packages link to, as Gitea repositories)", Commands: []*cli.Command{
				sub("create", "create a project and print its id", []cli.Flag{
					str("owner", "user or organization that owns the project"), str("name", "project name"),
					&cli.StringFlag{Name: "visibility", Usage: "public or private (default: the owner's)"},
				}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					var vis depot.Visibility
					if v := cmd.String("visibility"); v != "" {
						var err error
						if vis, err = depot.ParseVisibility(v); err != nil {
							return usageError("--visibility: %v", err)
						}
					}
					p, err := svc.CreateProject(ctx, cmd.String("owner"), cmd.String("name"), vis)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(stdout, p.ID)
					return err
				}),
				sub("list", "list projects", nil, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					projects, err := svc.ListProjects(ctx)
					if err != nil {
						return err
					}
					return table(func(tw *tabwriter.Writer) {
						fmt.Fprintln(tw, "ID\tOWNER\tNAME\tVISIBILITY\tCREATED")
						for _, p := range projects {
							vis := string(p.Visibility)
							if vis == "" {
								vis = "(owner's)"
							}
							fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.ID, p.OwnerName, p.Name, vis, p.CreatedAt.Format(time.RFC3339))
						}
					})
				}),
			}},
			{Name: "token", Usage: "manage access tokens", Commands: []*cli.Command{
				sub("create", "create a token and print it (it is shown only once)", []cli.Flag{
					str("username", "owner of the token"), str("name", "token name"),
					str("scopes", "comma-separated scopes: read:package, write:package, all, ..."),
					&cli.DurationFlag{Name: "expires-in", Usage: "lifetime, e.g. 720h; 0 means never"},
				}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
					scopes, err := depot.ParseScopes(cmd.String("scopes"))
					if err != nil {
						return usageError("--scopes: %v", err)
					}
					var expires *time.Time
					if d := cmd.Duration("expires-in"); d > 0 {
						t := time.Now().Add(d).UTC()
						expires = &t
					}
					secret, _, err := svc.CreateToken(ctx, cmd.String("username"), cmd.String("name"), scopes, expires)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintln(stdout, secret)
					return err
				}),
				sub("list", "list a user's tokens", []cli.Flag{str("username", "user name")},
					func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
						tokens, err := svc.ListTokens(ctx, cmd.String("username"))
						if err != nil {
							return err
						}
						return table(func(tw *tabwriter.Writer) {
							fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tLAST EIGHT\tCREATED\tEXPIRES")
							for _, t := range tokens {
								exp := "never"
								if t.ExpiresAt != nil {
									exp = t.ExpiresAt.Format(time.RFC3339)
								}
								fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scopes, t.LastEight, t.CreatedAt.Format(time.RFC3339), exp)
							}
						})
					}),
				sub("revoke", "delete a token", []cli.Flag{str("username", "user name"), str("name", "token name")},
					func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
						if err := svc.RevokeToken(ctx, cmd.String("username"), cmd.String("name")); err != nil {
							return err
						}
						_, err := fmt.Fprintf(stdout, "revoked token %s of %s\n", cmd.String("name"), cmd.String("username"))
						return err
					}),
			}},
		}, append(append(append(append(gitlabAdminCommands(stdout, sub), integrityCommands(stdout, stderr, onUsage)...), trustedPublisherCommand(stdout, sub)), quotaAdminCommands(stdout, sub)...), append(hookAdminCommands(stdout, sub, onUsage), append(cleanupAdminCommands(stdout, sub, onUsage), auditCommand(stdout, sub))...)...)...),
	}
}
