package main

import (
	"context"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func collectorColumns() []column[*v1.Collector] {
	type c = *v1.Collector
	return []column[c]{
		{"ID", func(r c) string { return r.GetId() }},
		{"HOSTNAME", func(r c) string { return r.GetHostname() }},
		{"VERSION", func(r c) string { return r.GetVersion() }},
		{"PROTOCOL", func(r c) string { return r.GetProtocol() }},
		{"LEASES", func(r c) string { return u32(r.GetLeases()) }},
		{"ENROLLED", func(r c) string { return msTime(r.GetEnrolledAtMs()) }},
		{"LAST SEEN", func(r c) string { return msTime(r.GetLastSeenMs()) }},
	}
}

func (a *app) collectorCommand() *cobra.Command {
	return group("collector", "Inspect enrolled collectors", a.collectorListCommand())
}

func (a *app) collectorListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List enrolled collectors",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListCollectors, &v1.ListCollectorsRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, collectorColumns(), res.GetCollectors())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
