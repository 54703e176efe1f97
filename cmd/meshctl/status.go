package main

import (
	"context"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func statusColumns() []column[*v1.GetStatusResponse] {
	type s = *v1.GetStatusResponse
	return []column[s]{
		{"CLUSTER ID", func(r s) string { return r.GetClusterId() }},
		{"NODE ID", func(r s) string { return r.GetNodeId() }},
		{"STATE", func(r s) string { return r.GetState() }},
		{"LEADER ID", func(r s) string { return r.GetLeaderId() }},
		{"LEADER ADDRESS", func(r s) string { return r.GetLeaderApiAddr() }},
		{"TERM", func(r s) string { return u64(r.GetTerm()) }},
		{"COMMIT INDEX", func(r s) string { return u64(r.GetCommitIndex()) }},
		{"APPLIED INDEX", func(r s) string { return u64(r.GetAppliedIndex()) }},
		{"LAST LOG INDEX", func(r s) string { return u64(r.GetLastLogIndex()) }},
		{"TRUSTED TIME", func(r s) string { return msTime(r.GetTrustedTimeMs()) }},
		{"LOCAL TIME", func(r s) string { return msTime(r.GetLocalTimeMs()) }},
		{"CLOCK TAMPERED", func(r s) string { return yesNo(r.GetClockTampered()) }},
		{"VERSION", func(r s) string { return r.GetVersion() }},
		{"PROTOCOL", func(r s) string { return u32(r.GetProtocolVersion()) }},
		{"VOTERS", func(r s) string { return u32(r.GetVoters()) }},
		{"POOLS", func(r s) string { return u32(r.GetPools()) }},
		{"LEASES", func(r s) string { return u32(r.GetLeases()) }},
		{"COLLECTORS", func(r s) string { return u32(r.GetCollectors()) }},
		{"HUB", func(r s) string {
			if r.GetHubUrl() == "" {
				return "not activated"
			}
			return r.GetHubUrl()
		}},
		{"LICENSE CHECK", func(r s) string {
			if r.GetLastLicenseCheckMs() == 0 {
				return ""
			}
			return msTime(r.GetLastLicenseCheckMs()) + ": " + r.GetLastLicenseCheckSummary()
		}},
		{"USAGE BATCHES", func(r s) string {
			return u64(r.GetUsageBatchesAcked()) + " of " + u64(r.GetUsageBatchesSealed()) + " acknowledged by the hub"
		}},
	}
}

func (a *app) statusCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the master's view of the cluster",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetStatus, &v1.GetStatusRequest{})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, statusColumns(), res)
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
