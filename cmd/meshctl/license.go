package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/licensing/license"
)

func (a *app) licenseCommand() *cobra.Command {
	return group("license", "Add, list, show and remove licenses; verify one offline",
		a.licenseAddCommand(),
		a.licenseListCommand(),
		a.licenseShowCommand(),
		a.licenseRemoveCommand(),
		a.licenseVerifyCommand(),
		a.licenseCheckCommand(),
		group("cost", "What each license cost and who owns it (reports spread it over departments)",
			a.licenseCostSetCommand(), a.licenseCostListCommand(), a.licenseCostRemoveCommand()),
	)
}

func (a *app) licenseVerifyCommand() *cobra.Command {
	var (
		keyLines  []string
		keysFile  string
		clusterID string
		at        timeValue
		trusted   timeValue
	)
	cmd := &cobra.Command{
		Use:   "verify FILE (--vendor-key ID:BASE64 ... | --vendor-keys FILE) [--cluster-id ID]",
		Short: "Check a license file offline and show what it grants",
		Long: `Check a license file against the vendor's public keys, with no cluster: its
form, its signature, its fields, its cluster binding (with --cluster-id) and
its dates. A valid license is summed up: product, type, expiry and days left,
features and the seat pools it grants now. An invalid one is refused with the
precise reason and exit status 1.

The license text may come as pasted: surrounding text, indentation and CRLF
line ends are fine.`,
		Args: oneArg("license file"),
		RunE: a.action(func(_ context.Context, args []string) error {
			keys, err := buildKeyring(keyLines, keysFile)
			if err != nil {
				return err
			}
			var cluster license.ClusterID
			if clusterID != "" {
				cluster = license.ClusterID(clusterID)
				if err := cluster.Validate(); err != nil {
					return usagef("--cluster-id: %v", err)
				}
			}
			text, err := readSmallFile(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			now := time.Time(at)
			if now.IsZero() {
				now = time.Now()
			}
			mark := time.Time(trusted)
			l, err := license.Verify(text, keys, license.VerifyOptions{
				ClusterID:   cluster,
				AnyCluster:  cluster == "",
				Now:         now,
				TrustedTime: mark,
			})
			if l != nil {
				if perr := printLicense(a.stdout, l, license.Status(l, now, mark), cluster); perr != nil {
					return perr
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return nil
		}),
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&keyLines, "vendor-key", nil, "a trusted vendor public key, ID:BASE64 (repeatable)")
	fs.StringVar(&keysFile, "vendor-keys", "", "a file of trusted vendor public keys, one ID:BASE64 per line")
	fs.StringVar(&clusterID, "cluster-id", "", "check the license's binding against this cluster ID")
	fs.Var(&at, "at", "judge the license at this time (RFC 3339) instead of now")
	fs.Var(&trusted, "trusted-time", "the cluster's trusted-time mark (RFC 3339); the license is judged at the later of it and --at")
	return cmd
}

// buildKeyring gathers the trusted vendor keys from --vendor-key and
// --vendor-keys.
func buildKeyring(lines []string, file string) (license.Keyring, error) {
	keys, err := license.ParseKeyring(lines...)
	if err != nil {
		return nil, usagef("--vendor-key: %v", err)
	}
	if file != "" {
		b, err := readSmallFile(file)
		if err != nil {
			return nil, usagef("--vendor-keys: %v", err)
		}
		fromFile, err := license.ReadKeyring(strings.NewReader(string(b)))
		if err != nil {
			return nil, usagef("--vendor-keys %s: %v", file, err)
		}
		for _, id := range fromFile.IDs() {
			if err := keys.Add(id, fromFile[id]); err != nil {
				return nil, usagef("--vendor-keys %s: %v", file, err)
			}
		}
	}
	if len(keys) == 0 {
		return nil, usagef("no vendor key to check the license with: give --vendor-key ID:BASE64 or --vendor-keys FILE")
	}
	return keys, nil
}

// timeValue is an RFC 3339 time flag.
type timeValue time.Time

func (v *timeValue) String() string {
	if time.Time(*v).IsZero() {
		return ""
	}
	return time.Time(*v).Format(time.RFC3339)
}

func (v *timeValue) Type() string { return "time" }

func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time like 2026-01-31T00:00:00Z")
	}
	*v = timeValue(t)
	return nil
}

// printLicense sums a license up as key/value lines, then the pools it
// grants now (and after the trial, during one).
func printLicense(w io.Writer, l *license.License, s license.State, cluster license.ClusterID) error {
	day := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	rows := [][]string{
		{"LICENSE", string(l.ID)},
		{"CUSTOMER", fmt.Sprintf("%s (%s)", l.Customer.Name, l.Customer.ID)},
		{"PRODUCT", fmt.Sprintf("%s (%s: %s %s)", l.Product.Name, l.Product.SKU, l.Product.Application, l.Product.Version)},
		{"TYPE", describeType(l)},
		{"BILLING", string(l.Billing)},
		{"QUANTITY", strconv.Itoa(l.Quantity)},
		{"SIGNED BY", string(l.KeyID)},
		{"ISSUED", day(l.IssuedAt)},
		{"VALID FROM", day(l.NotBefore)},
	}
	switch {
	case !s.Expires:
		rows = append(rows, []string{"EXPIRES", "never"})
	case l.Grace > 0:
		rows = append(rows, []string{"EXPIRES", fmt.Sprintf("%s (grace %s, until %s)", day(s.ExpiresAt), l.Grace, day(s.GraceEnd))})
	default:
		rows = append(rows, []string{"EXPIRES", day(s.ExpiresAt) + " (no grace)"})
	}
	rows = append(rows, []string{"STATUS", describeState(s)})
	if end, ok := l.TrialEnd(); ok {
		trial := count(l.Trial.PeriodCount, string(l.Trial.PeriodUnit)) + ", "
		switch {
		case s.InTrial:
			trial += fmt.Sprintf("in trial, %s left (ends %s)", count(s.TrialDaysLeft, "day"), day(end))
		case s.At.Before(l.NotBefore):
			trial += "ends " + day(end)
		default:
			trial += "ended " + day(end)
		}
		rows = append(rows, []string{"TRIAL", trial})
	}
	switch {
	case l.ClusterID == "":
		rows = append(rows, []string{"CLUSTER", "any (not bound)"})
	case cluster == "":
		rows = append(rows, []string{"CLUSTER", string(l.ClusterID) + " (not checked: no --cluster-id)"})
	case cluster == l.ClusterID:
		rows = append(rows, []string{"CLUSTER", string(l.ClusterID) + " (matches)"})
	default:
		rows = append(rows, []string{"CLUSTER", fmt.Sprintf("%s (this is %s)", l.ClusterID, cluster)})
	}
	features := make([]string, len(l.Features))
	for i, f := range l.Features {
		features[i] = f.Name + " (" + map[bool]string{true: "on", false: "off"}[f.Enabled] + ")"
	}
	rows = append(rows, []string{"FEATURES", strings.Join(features, ", ")})
	if c := l.Credits; c != nil {
		rows = append(rows, []string{"CREDITS", fmt.Sprintf("%d %s (alert at %d)", c.Balance, c.Unit, c.LowAlertAt)})
	}
	if l.SubscriptionID != "" {
		rows = append(rows, []string{"SUBSCRIPTION", string(l.SubscriptionID)})
	}
	if len(l.Supersedes) > 0 {
		ids := make([]string, len(l.Supersedes))
		for i, id := range l.Supersedes {
			ids[i] = string(id)
		}
		rows = append(rows, []string{"SUPERSEDES", strings.Join(ids, ", ")})
	}
	if err := writeRows(w, rows); err != nil {
		return err
	}

	now, err := l.PoolsAt(s.At)
	if err != nil {
		return err
	}
	title := "POOLS NOW"
	if s.InTrial {
		title = "POOLS NOW (trial)"
	}
	if err := printPools(w, title, now); err != nil {
		return err
	}
	if end, ok := l.TrialEnd(); ok && s.InTrial {
		after, err := l.PoolsAt(end)
		if err != nil {
			return err
		}
		return printPools(w, "POOLS AFTER THE TRIAL", after)
	}
	return nil
}

func printPools(w io.Writer, title string, pools []license.Pool) error {
	if _, err := fmt.Fprintf(w, "\n%s\n", title); err != nil {
		return err
	}
	if len(pools) == 0 {
		_, err := fmt.Fprintln(w, "none")
		return err
	}
	body := make([][]string, len(pools))
	for i, p := range pools {
		amount := ""
		if p.Amount > 0 {
			amount = strconv.FormatInt(p.Amount, 10)
		}
		body[i] = []string{p.Name, strconv.Itoa(p.Seats), p.Enforce.String(), strconv.Itoa(p.Overage), amount}
	}
	return writeTable(w, []string{"NAME", "SEATS", "ENFORCE", "OVERAGE", "AMOUNT"}, body)
}

func describeType(l *license.License) string {
	switch {
	case l.Subscription != nil:
		s := "subscription, renews every " + count(l.Subscription.RenewalPeriodCount, string(l.Subscription.RenewalPeriodUnit))
		if l.Subscription.AutoRenew {
			s += ", auto-renew"
		}
		return s
	case l.Perpetual != nil:
		return "perpetual, updates until " + l.Perpetual.UpdatesUntil.UTC().Format(time.RFC3339)
	case l.Volume != nil:
		return fmt.Sprintf("volume, %d installations", l.Volume.Installations)
	}
	return string(l.Type)
}

func describeState(s license.State) string {
	var out string
	switch s.Phase {
	case license.Active:
		if s.Expires {
			out = fmt.Sprintf("active, %s left", count(s.DaysLeft, "day"))
		} else {
			out = "active, no expiry"
		}
	case license.InGrace:
		out = fmt.Sprintf("in grace: expired %s, %s of grace left", s.ExpiresAt.UTC().Format(time.RFC3339), count(s.GraceDaysLeft, "day"))
	case license.Expired:
		out = "expired"
	case license.NotYetValid:
		out = "not yet valid"
	}
	if n := len(s.Alerts); n > 0 {
		out += fmt.Sprintf(" (expiry alert: %s)", count(s.Alerts[n-1], "day"))
	}
	if s.Tampered {
		out += "; the clock is more than 24h behind the trusted time"
	}
	return out
}

// count writes "1 day", "2 days".
func count(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
