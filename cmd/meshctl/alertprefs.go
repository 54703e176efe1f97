package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/licensing/alert"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func alertPrefsColumns() []column[*v1.AlertPrefs] {
	type p = *v1.AlertPrefs
	return []column[p]{
		{"EMAIL", func(x p) string { return x.GetEmail() }},
		{"KINDS", func(x p) string {
			if len(x.GetKinds()) == 0 && x.GetEmail() != "" {
				return "all"
			}
			return strings.Join(x.GetKinds(), ",")
		}},
		{"MIN SEVERITY", func(x p) string { return x.GetMinSeverity() }},
		{"QUIET HOURS", func(x p) string {
			if x.GetQuietFrom() == "" {
				return ""
			}
			q := x.GetQuietFrom() + "-" + x.GetQuietTo() + " " + x.GetZone()
			if !x.GetQuietCritical() {
				q += " (critical comes through)"
			}
			return q
		}},
	}
}

func (a *app) alertPrefsShowCommand() *cobra.Command {
	var (
		out  format
		user string
	)
	cmd := &cobra.Command{
		Use:   "show [--user NAME]",
		Short: "Show your alert preferences (or, as an admin, someone's)",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetAlertPrefs, &v1.GetAlertPrefsRequest{User: user})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, alertPrefsColumns(), res.GetPrefs())
		}),
	}
	cmd.Flags().StringVar(&user, "user", "", "whose preferences (an admin's choice; default yours)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) alertPrefsSetCommand() *cobra.Command {
	var (
		out                format
		user, kinds, quiet string
		prefs              v1.AlertPrefs
		noEmail, noQuiet   bool
	)
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:   "set [--email ADDR] [--kinds K,K] [--min-severity S] [--quiet 22:00-07:00 --zone Europe/Paris] [--quiet-critical]",
		Short: "Set your alert mail: where, which alerts, and your quiet hours",
		Long: `Set the alerts mailed to you (or, as an admin, with --user, to someone):
the address, the kinds (default all) and the least severity, and quiet hours
in your own time zone, when mail waits until they end. Critical alerts come
through the quiet hours unless --quiet-critical. What you do not give stays
as it was; --no-email stops your alert mail, --no-quiet ends quiet hours,
--kinds all takes every kind again. The dashboard's Alerts page
shows the same alerts to everyone who may read, each marked read or unread
for you.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			for _, k := range splitList(kinds) {
				if k != "all" && !alert.Kind(k).Known() {
					return usagef("--kinds %q: want kinds among %s", k, alert.KindNames())
				}
			}
			switch prefs.MinSeverity {
			case "", "info", "warning", "critical":
			default:
				return usagef("--min-severity %q: info, warning or critical", prefs.MinSeverity)
			}
			if quiet != "" {
				from, to, ok := strings.Cut(quiet, "-")
				if !ok || len(from) != 5 || len(to) != 5 {
					return usagef("--quiet %q: want HH:MM-HH:MM, like 22:00-07:00", quiet)
				}
				prefs.QuietFrom, prefs.QuietTo = from, to
			}
			if noEmail && prefs.Email != "" {
				return usagef("--email and --no-email together")
			}
			if noQuiet && quiet != "" {
				return usagef("--quiet and --no-quiet together")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			cur, err := call(ctx, a, admin.GetAlertPrefs, &v1.GetAlertPrefsRequest{User: user})
			if err != nil {
				return err
			}
			next := cur.GetPrefs()
			if next == nil {
				next = &v1.AlertPrefs{}
			}
			changed := cmd.Flags().Changed
			switch {
			case noEmail:
				next.Email = ""
			case changed("email"):
				next.Email = prefs.Email
			}
			switch {
			case kinds == "all":
				next.Kinds = nil
			case changed("kinds"):
				next.Kinds = splitList(kinds)
			}
			if changed("min-severity") {
				next.MinSeverity = prefs.MinSeverity
			}
			switch {
			case noQuiet:
				next.QuietFrom, next.QuietTo = "", ""
			case quiet != "":
				next.QuietFrom, next.QuietTo = prefs.QuietFrom, prefs.QuietTo
			}
			if changed("zone") {
				next.Zone = prefs.Zone
			}
			if changed("quiet-critical") {
				next.QuietCritical = prefs.QuietCritical
			}
			res, err := call(ctx, a, admin.SetAlertPrefs, &v1.SetAlertPrefsRequest{User: user, Prefs: next})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, alertPrefsColumns(), res.GetPrefs())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&user, "user", "", "whose preferences (an admin's choice; default yours)")
	fs.StringVar(&prefs.Email, "email", "", "where your alert mail goes")
	fs.BoolVar(&noEmail, "no-email", false, "no alert mail")
	fs.StringVar(&kinds, "kinds", "", "only these kinds, comma-separated (default all)")
	fs.StringVar(&prefs.MinSeverity, "min-severity", "", "the least severe: info, warning or critical")
	fs.StringVar(&quiet, "quiet", "", "quiet hours, HH:MM-HH:MM in --zone")
	fs.StringVar(&prefs.Zone, "zone", "", "your time zone, like Europe/Paris")
	fs.BoolVar(&prefs.QuietCritical, "quiet-critical", false, "hold critical alerts in the quiet hours too")
	fs.BoolVar(&noQuiet, "no-quiet", false, "no quiet hours")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) alertReadCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "read KEY... | --all",
		Short: "Mark alerts read, for you",
		Args: func(_ *cobra.Command, args []string) error {
			if (len(args) == 0) == !all {
				return usagef("name the alerts read, or --all, one of them")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.MarkAlertsRead, &v1.MarkAlertsReadRequest{Keys: args, All: all})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "%d alerts left unread\n", res.GetUnread())
			return err
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "every alert")
	return cmd
}
