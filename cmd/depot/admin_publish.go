package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/urfave/cli/v3"
)

// trustedPublisherCommand manages trusted publishers: CI identities an
// owner lets publish with their OIDC ID tokens.
func trustedPublisherCommand(stdout io.Writer, sub subCommand) *cli.Command {
	return &cli.Command{Name: "trusted-publisher", Usage: "manage trusted publishers (CI jobs that publish with their OIDC ID token)", Commands: []*cli.Command{
		sub("create", "trust a CI identity to publish to an owner; prints the publisher's id", []cli.Flag{
			&cli.StringFlag{Name: "owner", Usage: "user or organization the publisher may publish to", Required: true},
			&cli.StringFlag{Name: "issuer", Usage: "OIDC issuer URL, e.g. https://token.actions.githubusercontent.com, https://gitlab.com, https://<forgejo>/api/actions", Required: true},
			&cli.StringFlag{Name: "audience", Usage: "audience the ID token must carry (default: the server's --base-url)"},
			&cli.StringSliceFlag{Name: "claim", Usage: "NAME=VALUE condition on a claim, exact or a glob (* ? [...]); repeatable, at least one", Required: true},
			&cli.StringSliceFlag{Name: "package", Usage: "package name pattern the publisher may upload to (glob, repeatable; default every package)"},
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			p, err := svc.CreateTrustedPublisher(ctx, depot.NewTrustedPublisher{
				Owner: cmd.String("owner"), Issuer: cmd.String("issuer"), Audience: cmd.String("audience"),
				Claims: cmd.StringSlice("claim"), Packages: cmd.StringSlice("package"),
			})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, p.ID)
			return err
		}),
		sub("list", "list trusted publishers", []cli.Flag{
			&cli.StringFlag{Name: "owner", Usage: "only this owner's"},
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			pubs, err := svc.TrustedPublishers(ctx, cmd.String("owner"))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tOWNER\tISSUER\tAUDIENCE\tCLAIMS\tPACKAGES")
			for _, p := range pubs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.OwnerName, p.Issuer, orDash(p.Audience, "(base URL)"),
					describeClaims(p.Claims), orDash(strings.Join(p.Packages, ","), "*"))
			}
			return tw.Flush()
		}),
		sub("delete", "delete a trusted publisher; its tokens stop working", []cli.Flag{
			&cli.Int64Flag{Name: "id", Usage: "publisher id (from list)", Required: true},
		}, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
			return svc.DeleteTrustedPublisher(ctx, cmd.Int64("id"))
		}),
	}}
}

func orDash(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

// describeClaims writes conditions as NAME=PATTERN, comma-separated.
func describeClaims(cs []depot.ClaimCondition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Pattern
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
