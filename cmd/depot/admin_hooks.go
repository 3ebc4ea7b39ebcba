package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/urfave/cli/v3"
)

// cliActor is who the admin CLI acts as: a site admin without an account
// (payloads show Gitea's ghost as the sender of what it deletes).
var cliActor = &depot.Actor{User: &depot.User{Owner: depot.Owner{Name: "depot-admin-cli", Kind: depot.KindUser}, IsAdmin: true}}

// hookAdminCommands are admin hook ... and admin package delete.
func hookAdminCommands(stdout io.Writer, sub subCommand, onUsage cli.OnUsageErrorFunc) []*cli.Command {
	target := []cli.Flag{
		&cli.StringFlag{Name: "owner", Usage: "user or organization whose hooks these are"},
		&cli.BoolFlag{Name: "system", Usage: "system hooks (every owner's events) instead of --owner"},
	}
	owner := func(cmd *cli.Command) (string, error) {
		switch o, sys := cmd.String("owner"), cmd.Bool("system"); {
		case o == "" && !sys, o != "" && sys:
			return "", usageError("give exactly one of --owner and --system")
		default:
			return o, nil
		}
	}
	id := &cli.Int64Flag{Name: "id", Usage: "hook id (see hook list)", Required: true}
	table := func(fn func(tw *tabwriter.Writer)) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fn(tw)
		return tw.Flush()
	}
	return []*cli.Command{
		{Name: "hook", Usage: "manage package webhooks (Gitea's package event)", Commands: []*cli.Command{
			sub("create", "create a webhook and print its id", append(target,
				&cli.StringFlag{Name: "url", Usage: "target URL (http or https, no credentials)", Required: true},
				&cli.StringFlag{Name: "content-type", Value: "json", Usage: "json or form"},
				&cli.StringFlag{Name: "secret", Usage: "HMAC-SHA256 signing secret"},
				&cli.BoolFlag{Name: "inactive", Usage: "create the hook inactive"},
			), func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				o, err := owner(cmd)
				if err != nil {
					return err
				}
				url, ct, secret, active := cmd.String("url"), cmd.String("content-type"), cmd.String("secret"), !cmd.Bool("inactive")
				h, err := svc.CreateHook(ctx, cliActor, o, depot.HookInput{Type: "gitea", URL: &url, ContentType: &ct, Secret: &secret, Active: &active})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(stdout, h.ID)
				return err
			}),
			sub("list", "list webhooks", target, func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				o, err := owner(cmd)
				if err != nil {
					return err
				}
				var hooks []*depot.Hook
				if o == "" {
					hooks, err = svc.ListSystemHooks(ctx, cliActor)
				} else {
					hooks, err = svc.ListHooks(ctx, cliActor, o)
				}
				if err != nil {
					return err
				}
				return table(func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "ID\tURL\tCONTENT TYPE\tEVENTS\tACTIVE\tCREATED")
					for _, h := range hooks {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\t%s\n", h.ID, h.URL, h.ContentType, strings.Join(h.Events, ","), h.Active, h.CreatedAt.Format(time.RFC3339))
					}
				})
			}),
			sub("delete", "delete a webhook with its deliveries", append(target, id), func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				o, err := owner(cmd)
				if err != nil {
					return err
				}
				if err := svc.DeleteHook(ctx, cliActor, o, cmd.Int64("id")); err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdout, "deleted hook %d\n", cmd.Int64("id"))
				return err
			}),
			sub("deliveries", "show a webhook's delivery log, newest first", append(target, id,
				&cli.IntFlag{Name: "limit", Value: 20, Usage: "tries to show"},
			), func(ctx context.Context, cmd *cli.Command, svc *depot.Service) error {
				o, err := owner(cmd)
				if err != nil {
					return err
				}
				log, err := svc.HookDeliveries(ctx, cliActor, o, cmd.Int64("id"), int(cmd.Int("limit")))
				if err != nil {
					return err
				}
				return table(func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "DELIVERY\tUUID\tACTION\tSTARTED\tDURATION\tSTATUS\tERROR")
					for _, a := range log {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", a.DeliveryID, a.UUID, a.Action, a.StartedAt.Format(time.RFC3339), a.Duration.Round(time.Millisecond), a.StatusCode, a.Error)
					}
				})
			}),
		}},
		{Name: "package", Usage: "manage packages", Commands: []*cli.Command{
			{
				Name: "delete", Usage: "delete a generic package version with its files (webhooks hear of it)",
				Flags: append(append(dataFlags(), storageFlags()...),
					&cli.StringFlag{Name: "owner", Usage: "user or organization", Required: true},
					&cli.StringFlag{Name: "name", Usage: "package name", Required: true},
					&cli.StringFlag{Name: "version", Usage: "version", Required: true},
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
					svc, err := newService(c, store, blobs, slog.New(slog.DiscardHandler), nil)
					if err != nil {
						return err
					}
					defer svc.Close()
					ref := depot.VersionRef{Owner: cmd.String("owner"), Type: depot.TypeGeneric, Package: cmd.String("name"), Version: cmd.String("version")}
					if err := svc.DeleteVersion(depot.WithAuditActor(ctx, depot.AuditActorAdminCLI), cliActor, ref); err != nil {
						return err
					}
					_, err = fmt.Fprintf(stdout, "deleted %s/%s %s\n", ref.Owner, ref.Package, ref.Version)
					return err
				},
			},
		}},
	}
}
