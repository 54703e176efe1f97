package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"
	_ "time/tzdata" // months and times are shown in the site's zone, whatever this machine knows

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/licensing/usage"
	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	"github.com/licmesh/licmesh/mesh/usagewire"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func (a *app) usageCommand() *cobra.Command {
	return group("usage", "Show subscriber metrics by installation and month",
		a.usageHistoryCommand(),
		a.usageMonthCommand(),
		a.usageMonthsCommand(),
		a.usageInstallationsCommand(),
		a.usageExportCommand(),
		a.usageReceiptCommand(),
	)
}

// gridOutput is how and where a usage grid is printed: -o and --file.
type gridOutput struct {
	format gridFormat
	file   string
}

func (o *gridOutput) bind(fs *pflag.FlagSet) {
	o.format.format = formatTable
	fs.VarP(&o.format, "output", "o", "output format: table, json, csv or xlsx (an Excel workbook)")
	fs.StringVar(&o.file, "file", "", "write to this file instead of standard output")
}

// check refuses, before any call, to send a workbook to a terminal, where
// it would only garble the screen.
func (o *gridOutput) check(stdout io.Writer) error {
	if o.format.format == formatXLSX && o.file == "" && looksLikeTerminal(stdout) {
		return usagef("-o xlsx writes a binary workbook and standard output is a terminal: give --file F or redirect the output")
	}
	return nil
}

// looksLikeTerminal reports whether w is a character device other than the
// null device: as close to "is a terminal" as the standard library tells.
func looksLikeTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// printGrid prints g, or msg, the whole response, as JSON.
func (a *app) printGrid(o gridOutput, msg proto.Message, g *usagegrid.Grid) error {
	var buf bytes.Buffer
	var err error
	switch o.format.format {
	case formatJSON:
		err = writeJSON(&buf, msg)
	case formatCSV:
		err = g.WriteCSV(&buf)
	case formatXLSX:
		err = g.WriteXLSX(&buf)
	default:
		err = writeTable(&buf, g.Header(), g.Strings())
	}
	if err != nil {
		return err
	}
	if o.file != "" {
		if err := os.WriteFile(o.file, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("meshctl: %w", err)
		}
		return nil
	}
	_, err = a.stdout.Write(buf.Bytes())
	return err
}

// gridReports converts the master's reports and loads the zone its times
// are shown in.
func gridReports(rs []*v1.UsageReport, zone string) ([]usage.Report, *time.Location, error) {
	loc, err := usagegrid.LoadZone(zone)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the master's time zone: %w", errServer, err)
	}
	out := make([]usage.Report, 0, len(rs))
	for _, r := range rs {
		rep, err := usagewire.ReportFromWire(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: a usage report of %q: %w", errServer, r.GetInstallation(), err)
		}
		out = append(out, rep)
	}
	return out, loc, nil
}

func (a *app) usageHistoryCommand() *cobra.Command {
	var (
		out  gridOutput
		inst string
	)
	cmd := &cobra.Command{
		Use:   "history --installation ID [-o table|json|csv|xlsx] [--file F]",
		Short: "Show one installation's metrics, month by month",
		Long: `Show one installation's metrics history: its months, newest first, with a
column per metric (short labels such as "En. staff"), whether the month is
closed, and what arrived for it after it closed (never counted in it). Times
are in the site's time zone (time_zone in -o json).

-o xlsx writes an Excel workbook, to --file or to standard output when that
is not a terminal.`,
		Args: noArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("installation") {
				return nil // cobra names the missing required flag after this
			}
			if err := usage.InstallationID(inst).Validate(); err != nil {
				return usagef("--installation: %v", err)
			}
			return out.check(a.stdout)
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.UsageHistory, &v1.UsageHistoryRequest{Installation: inst})
			if err != nil {
				return err
			}
			reports, loc, err := gridReports(res.GetReports(), res.GetTimeZone())
			if err != nil {
				return err
			}
			return a.printGrid(out, res, usagegrid.History(usage.InstallationID(inst), reports, loc))
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&inst, "installation", "", "the installation's ID")
	_ = cmd.MarkFlagRequired("installation")
	out.bind(fs)
	return cmd
}

func (a *app) usageMonthCommand() *cobra.Command {
	var (
		out gridOutput
		key usage.MonthKey
	)
	cmd := &cobra.Command{
		Use:   "month YYYY-MM [-o table|json|csv|xlsx] [--file F]",
		Short: "Show every installation's metrics for one month",
		Long: `Show one month's subscriber metrics: every installation that reported in it,
alphabetically, with a column per metric (short labels such as "En. staff"),
whether the month is closed, and what arrived for it after it closed (never
counted in it). The month is in the site's time zone, as are the times.

-o xlsx writes an Excel workbook, to --file or to standard output when that
is not a terminal.`,
		Args: oneArg("month (YYYY-MM)"),
		PreRunE: func(_ *cobra.Command, args []string) error {
			k, err := usagewire.ParseMonth(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			key = k
			return out.check(a.stdout)
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.UsageMonth, &v1.UsageMonthRequest{Month: key.String()})
			if err != nil {
				return err
			}
			reports, loc, err := gridReports(res.GetReports(), res.GetTimeZone())
			if err != nil {
				return err
			}
			return a.printGrid(out, res, usagegrid.Month(key, reports, loc))
		}),
	}
	out.bind(cmd.Flags())
	return cmd
}

func (a *app) usageMonthsCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "months",
		Short: "List the months that have metrics, newest first",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.UsageOverview, &v1.UsageOverviewRequest{})
			if err != nil {
				return err
			}
			cols := []column[string]{
				{"MONTH", func(m string) string { return m }},
				{"LABEL", func(m string) string {
					if k, err := usagewire.ParseMonth(m); err == nil {
						return k.Label()
					}
					return ""
				}},
			}
			return printList(a.stdout, out, res, cols, res.GetMonths())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func usageInstallationColumns() []column[*v1.UsageInstallation] {
	type i = *v1.UsageInstallation
	return []column[i]{
		{"INSTALLATION", func(r i) string { return r.GetInstallation() }},
		{"COLLECTOR", func(r i) string { return r.GetCollectorId() }},
		{"SPOOL EPOCH", func(r i) string { return u64(r.GetSpoolEpoch()) }},
		{"ACKED SEQ", func(r i) string { return u64(r.GetAckedSeq()) }},
		{"SAMPLES", func(r i) string { return u64(r.GetSamples()) }},
		{"LAST REPORT", func(r i) string { return msTime(r.GetLastReportMs()) }},
	}
}

func (a *app) usageInstallationsCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "installations",
		Short: "List the installations that report usage",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.UsageOverview, &v1.UsageOverviewRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, usageInstallationColumns(), res.GetInstallations())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
