package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// maxAuditPage is the most records one ListAuditLog call returns.
const maxAuditPage = 1000

func siteAuditColumns() []column[*v1.AuditRecord] {
	type r = *v1.AuditRecord
	return []column[r]{
		{"SEQ", func(x r) string { return fmt.Sprint(x.GetSeq()) }},
		{"AT", func(x r) string { return msTime(x.GetAtMs()) }},
		{"ACTOR", func(x r) string { return x.GetActor() }},
		{"ROLE", func(x r) string { return x.GetRole() }},
		{"FROM", func(x r) string { return x.GetAddr() }},
		{"VIA", func(x r) string { return x.GetVia() }},
		{"ACTION", func(x r) string { return x.GetAction() }},
		{"CHANGES", func(x r) string { return strings.Join(x.GetCommands(), ",") }},
		{"OUTCOME", func(x r) string { return x.GetOutcome() }},
		{"CODE", func(x r) string { return x.GetCode() }},
		{"REQUEST", func(x r) string { return x.GetRequestId() }},
	}
}

func (a *app) auditCommand() *cobra.Command {
	return group("audit", "Read the audit log: every change asked of the masters",
		a.auditListCommand(),
	)
}

// timeFlag is a point in time given as RFC 3339, a date (YYYY-MM-DD, UTC),
// or a duration back from now (24h, 7d).
type timeFlag struct {
	t   time.Time
	now func() time.Time
}

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339)
}

func (f *timeFlag) Type() string { return "time" }

func (f *timeFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		f.t = t
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		f.t = t
		return nil
	}
	var ttl ttlValue
	if err := ttl.Set(s); err == nil {
		f.t = f.now().Add(-time.Duration(ttl))
		return nil
	}
	return fmt.Errorf("want a time like 2026-12-01, 2026-12-01T09:00:00Z, or a duration back from now like 24h or 7d")
}

func (f *timeFlag) ms() int64 {
	if f.t.IsZero() {
		return 0
	}
	return f.t.UnixMilli()
}

func (a *app) auditListCommand() *cobra.Command {
	var (
		out           format
		actor, action string
		limit         int
		all           bool
		since         = timeFlag{now: time.Now}
		until         = timeFlag{now: time.Now}
	)
	cmd := &cobra.Command{
		Use:   "list [--actor user:NAME] [--action CALL] [--since T] [--until T] [--limit N | --all]",
		Short: "List audit records, newest first",
		Long: `List the audit log, newest first: who asked for what change, from where,
when, and how it ended (refusals included). Reads are not recorded.

Auditors and admins may read it. -o csv and -o json export it; with --all
every matching record is fetched, page by page, into one output:

    meshctl audit list --since 30d --all -o csv > audit.csv

--since and --until take a date (2026-12-01, UTC), an RFC 3339 time, or a
duration back from now (24h, 7d).`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			switch {
			case limit < 1 || limit > maxAuditPage:
				return usagef("--limit must be between 1 and %d, got %d", maxAuditPage, limit)
			case !since.t.IsZero() && !until.t.IsZero() && !until.t.After(since.t):
				return usagef("--until %s is not after --since %s", until.String(), since.String())
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			req := &v1.ListAuditLogRequest{Actor: actor, Action: action, SinceMs: since.ms(), UntilMs: until.ms(), Limit: uint32(limit)}
			all := all
			if all {
				req.Limit = maxAuditPage
			}
			res := &v1.ListAuditLogResponse{}
			for {
				page, err := call(ctx, a, admin.ListAuditLog, req)
				if err != nil {
					return err
				}
				res.Records = append(res.Records, page.GetRecords()...)
				res.More, res.Dropped, res.Kept = page.GetMore(), page.GetDropped(), page.GetKept()
				if !all || !page.GetMore() || len(page.GetRecords()) == 0 {
					break
				}
				req.BeforeSeq = page.GetRecords()[len(page.GetRecords())-1].GetSeq()
			}
			if err := printList(a.stdout, out, res, siteAuditColumns(), res.GetRecords()); err != nil {
				return err
			}
			if out == formatTable {
				if res.GetMore() {
					fmt.Fprintf(a.stderr, "more records match: --all, or --limit up to %d\n", maxAuditPage)
				}
				if res.GetDropped() > 0 {
					fmt.Fprintf(a.stderr, "%d older records were dropped by retention (audit_retention) or the cap\n", res.GetDropped())
				}
			}
			return nil
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&actor, "actor", "", `only this principal's records, e.g. "user:alice" or "token:ID"`)
	fs.StringVar(&action, "action", "", "only this admin call, e.g. CreatePool")
	fs.Var(&since, "since", "only records at or after this time")
	fs.Var(&until, "until", "only records before this time")
	fs.IntVar(&limit, "limit", 100, "at most this many records")
	fs.BoolVar(&all, "all", false, "every matching record, fetched page by page")
	addOutputFlag(fs, &out)
	return cmd
}
