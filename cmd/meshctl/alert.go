package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/licensing/alert"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func alertColumns() []column[*v1.Alert] {
	type x = *v1.Alert
	return []column[x]{
		{"KEY", func(r x) string { return r.GetKey() }},
		{"SEVERITY", func(r x) string { return r.GetSeverity() }},
		{"FIRED", func(r x) string { return msTime(r.GetFiredAtMs()) }},
		{"STATE", alertState},
		{"ACKED BY", func(r x) string { return r.GetAckedBy() }},
		{"SUMMARY", func(r x) string { return r.GetSummary() }},
	}
}

// alertState says whether an alert still holds.
func alertState(r *v1.Alert) string {
	if r.GetResolvedAtMs() != 0 {
		return "resolved " + msTime(r.GetResolvedAtMs())
	}
	return "active"
}

func alertRuleColumns() []column[*v1.AlertRule] {
	type x = *v1.AlertRule
	return []column[x]{
		{"KIND", func(r x) string { return r.GetKind() }},
		{"SUBJECT", func(r x) string { return r.GetSubject() }},
		{"ENABLED", func(r x) string { return yesNo(!r.GetDisabled()) }},
		{"THRESHOLDS", func(r x) string { return thresholdsText(r.GetThresholds()) }},
		{"AFTER", func(r x) string { return r.GetAfter() }},
		{"SET BY", func(r x) string {
			if r.GetDefault() {
				return "default"
			}
			return "site"
		}},
	}
}

func thresholdsText(ts []int32) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = strconv.Itoa(int(t))
	}
	return strings.Join(out, ",")
}

func (a *app) alertCommand() *cobra.Command {
	return group("alert", "List and acknowledge alerts, and set their rules",
		a.alertListCommand(),
		a.alertAckCommand(),
		group("rule", "List and set the alert rules", a.alertRuleListCommand(), a.alertRuleSetCommand()),
		group("channel", "Where alerts go besides the dashboard: e-mail and webhooks",
			a.alertChannelListCommand(), a.alertChannelSetCommand(), a.alertChannelRemoveCommand(), a.alertChannelTestCommand()),
		a.alertDeliveriesCommand(),
		a.alertReadCommand(),
		a.alertChannelTestCommand(), // "alert test ID", as "alert channel test ID"
		group("prefs", "Your own alert mail: its address, kinds and quiet hours",
			a.alertPrefsShowCommand(), a.alertPrefsSetCommand()),
	)
}

func alertChannelColumns() []column[*v1.AlertChannel] {
	type x = *v1.AlertChannel
	return []column[x]{
		{"ID", func(r x) string { return r.GetId() }},
		{"KIND", func(r x) string { return r.GetKind() }},
		{"TO", func(r x) string {
			if r.GetKind() == "email" {
				return strings.Join(r.GetEmails(), ",")
			}
			return r.GetUrl()
		}},
		{"KINDS", func(r x) string { return strings.Join(r.GetKinds(), ",") }},
		{"MIN SEVERITY", func(r x) string { return r.GetMinSeverity() }},
		{"ENABLED", func(r x) string { return yesNo(!r.GetDisabled()) }},
		{"UPDATED", func(r x) string { return msTime(r.GetUpdatedAtMs()) }},
	}
}

func deliveryColumns() []column[*v1.AlertDelivery] {
	type x = *v1.AlertDelivery
	return []column[x]{
		{"DELIVERY", func(r x) string { return r.GetId() }},
		{"STATE", func(r x) string { return r.GetState() }},
		{"ATTEMPTS", func(r x) string { return u32(r.GetAttempts()) }},
		{"LAST", func(r x) string { return msTime(r.GetLastAtMs()) }},
		{"NEXT", func(r x) string {
			if r.GetState() != "pending" {
				return ""
			}
			return msTime(r.GetNextAtMs())
		}},
		{"LAST ERROR", func(r x) string { return r.GetLastError() }},
	}
}

func (a *app) alertChannelListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the alert channels (webhook secrets are never shown)",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListAlertChannels, &v1.ListAlertChannelsRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, alertChannelColumns(), res.GetChannels())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) alertChannelSetCommand() *cobra.Command {
	var (
		out        format
		ch         v1.AlertChannel
		emails     string
		kinds      string
		secretFile string
	)
	cmd := &cobra.Command{
		Use:   "set ID --email a@x,b@y | --webhook URL --secret-file F [--kinds K,K] [--min-severity S] [--disable]",
		Short: "Add or change an alert channel",
		Long: `Add or change an alert channel: e-mail to a list (the masters' smtp_* settings
send it), or a webhook that receives each alert as JSON, signed with
HMAC-SHA256 by the secret read from --secret-file (X-Licmesh-Signature:
sha256=hex over "timestamp.body"; X-Licmesh-Delivery identifies the delivery,
for the receiver to drop a repeat). Changing a webhook without --secret-file
keeps its secret. --kinds limits the kinds of alert it takes; --min-severity
the least severe (info, warning, critical).`,
		Args: oneArg("channel id"),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if (emails == "") == (ch.Url == "") {
				return usagef("give --email or --webhook, one of them")
			}
			for _, k := range splitList(kinds) {
				if !alert.Kind(k).Known() {
					return usagef("--kinds %q: want kinds among %s", k, alert.KindNames())
				}
			}
			switch ch.MinSeverity {
			case "", "info", "warning", "critical":
			default:
				return usagef("--min-severity %q: info, warning or critical", ch.MinSeverity)
			}
			if emails != "" && secretFile != "" {
				return usagef("--secret-file is for webhooks")
			}
			if emails != "" && ch.Audit {
				return usagef("--audit is for webhooks")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			ch.Id = args[0]
			ch.Kind = "webhook"
			if emails != "" {
				ch.Kind, ch.Emails = "email", splitList(emails)
			}
			ch.Kinds = splitList(kinds)
			req := &v1.SetAlertChannelRequest{Channel: &ch}
			if secretFile != "" {
				b, err := readSmallFile(secretFile)
				if err != nil {
					return usagef("--secret-file: %v", err)
				}
				req.Secret = strings.TrimRight(string(b), "\r\n")
			}
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.SetAlertChannel, req)
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, alertChannelColumns(), res.GetChannel())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&emails, "email", "", "recipients, comma-separated")
	fs.StringVar(&ch.Url, "webhook", "", "the URL to POST alerts to (https)")
	fs.StringVar(&secretFile, "secret-file", "", "file holding the webhook's HMAC secret (16 to 256 bytes)")
	fs.StringVar(&kinds, "kinds", "", "only these kinds of alert, comma-separated")
	fs.StringVar(&ch.MinSeverity, "min-severity", "", "the least severe alert it takes: info, warning or critical")
	fs.BoolVar(&ch.Disabled, "disable", false, "keep the channel but send nothing to it")
	fs.BoolVar(&ch.Audit, "audit", false, "a webhook also gets every audit record (each change asked of the masters)")
	addOutputFlag(fs, &out)
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (a *app) alertChannelRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove an alert channel (its pending deliveries go with it)",
		Args:  oneArg("channel id"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.RemoveAlertChannel, &v1.RemoveAlertChannelRequest{Id: args[0]}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "removed alert channel %s\n", args[0])
			return err
		}),
	}
}

func (a *app) alertChannelTestCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "test ID",
		Short: "Send a test alert to a channel (follow it with meshctl alert deliveries)",
		Args:  oneArg("channel id"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.TestAlertChannel, &v1.TestAlertChannelRequest{Id: args[0]})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "test alert queued to %s%s\n", args[0], map[bool]string{true: " as delivery " + res.GetDelivery(), false: ""}[res.GetDelivery() != ""])
			return err
		}),
	}
}

func (a *app) alertDeliveriesCommand() *cobra.Command {
	var (
		out     format
		channel string
		limit   int64
	)
	cmd := &cobra.Command{
		Use:   "deliveries [--channel ID] [--limit N]",
		Short: "The delivery log: each alert's delivery to each channel, the latest first",
		Args:  noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if limit < 0 || limit > math.MaxUint32 {
				return usagef("--limit must be between 0 and %d, got %d", uint32(math.MaxUint32), limit)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListAlertDeliveries, &v1.ListAlertDeliveriesRequest{Channel: channel, Limit: uint32(limit)})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, deliveryColumns(), res.GetDeliveries())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&channel, "channel", "", "only this channel's")
	fs.Int64Var(&limit, "limit", 0, "at most this many (0: all)")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) alertListCommand() *cobra.Command {
	var (
		out   format
		req   v1.ListAlertsRequest
		limit int64
	)
	cmd := &cobra.Command{
		Use:   "list [--active] [--unacked] [--unread] [--kind K] [--limit N]",
		Short: "List alerts, the latest first",
		Args:  noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if limit < 0 || limit > math.MaxUint32 {
				return usagef("--limit must be between 0 and %d, got %d", uint32(math.MaxUint32), limit)
			}
			if req.Kind != "" && !alert.Kind(req.Kind).Known() {
				return usagef("--kind %q: want one of %s", req.Kind, alert.KindNames())
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			req.Limit = uint32(limit)
			res, err := call(ctx, a, admin.ListAlerts, &req)
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, alertColumns(), res.GetAlerts())
		}),
	}
	fs := cmd.Flags()
	fs.BoolVar(&req.Active, "active", false, "only alerts whose condition still holds")
	fs.BoolVar(&req.Unacked, "unacked", false, "only alerts no one acknowledged")
	fs.BoolVar(&req.Unread, "unread", false, "only alerts you have not read (a person's token)")
	fs.StringVar(&req.Kind, "kind", "", "only alerts of this kind")
	fs.Int64Var(&limit, "limit", 0, "at most this many (0: all)")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) alertAckCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "ack KEY",
		Short: "Acknowledge an alert (it stays listed, with who acknowledged it)",
		Args:  oneArg("alert key"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.AckAlert, &v1.AckAlertRequest{Key: args[0]})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, alertColumns(), res.GetAlert())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) alertRuleListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the alert rules in force: licmesh's defaults and the site's own",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListAlertRules, &v1.ListAlertRulesRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, alertRuleColumns(), res.GetRules())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) alertRuleSetCommand() *cobra.Command {
	var (
		out        format
		license    string
		thresholds string
		after      string
		disable    bool
		reset      bool
	)
	cmd := &cobra.Command{
		Use:   "set KIND [--thresholds 30,15,5] [--after 2h] [--license ID] [--disable] [--reset]",
		Short: "Set how a kind of alert is raised, for the site or one license",
		Long: `Set an alert rule. Thresholds are days before the end for license_expiry and
trial_end, and percent of a pool's seats for pool_usage; --after is how long a
condition lasts first for collector_silent, upstream_failing and
license_check_failing ("90m", "2d"). --license gives one license its own
license_expiry or trial_end schedule. --reset puts the default back.`,
		Args: oneArg("alert kind"),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if !alert.Kind(args[0]).Known() {
				return usagef("kind %q: want one of %s", args[0], alert.KindNames())
			}
			if reset && (thresholds != "" || after != "" || disable) {
				return usagef("--reset takes no other setting")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			rule := &v1.AlertRule{Kind: args[0], Subject: license, Disabled: disable, After: after}
			if thresholds != "" {
				for _, f := range strings.Split(thresholds, ",") {
					n, err := strconv.Atoi(strings.TrimSpace(f))
					if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
						return usagef("--thresholds %q: want whole numbers separated by commas", thresholds)
					}
					rule.Thresholds = append(rule.Thresholds, int32(n))
				}
			}
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.SetAlertRule, &v1.SetAlertRuleRequest{Rule: rule, Reset_: reset})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, alertRuleColumns(), res.GetRules())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&thresholds, "thresholds", "", "days or percent, comma-separated")
	fs.StringVar(&after, "after", "", `how long the condition lasts first, like "90m" or "2d"`)
	fs.StringVar(&license, "license", "", "the license the rule is for (license_expiry, trial_end)")
	fs.BoolVar(&disable, "disable", false, "raise no alert of this kind")
	fs.BoolVar(&reset, "reset", false, "put the default rule back")
	addOutputFlag(fs, &out)
	return cmd
}
