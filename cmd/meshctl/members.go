package main

import (
	"context"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func memberColumns() []column[*v1.Member] {
	type m = *v1.Member
	return []column[m]{
		{"ID", func(r m) string { return r.GetId() }},
		{"ADDRESS", func(r m) string { return r.GetApiAddr() }},
		{"RAFT", func(r m) string { return r.GetRaftAddr() }},
		{"STATE", func(r m) string { return r.GetState() }},
		{"VOTER", func(r m) string { return yesNo(r.GetVoter()) }},
		{"LEADER", func(r m) string { return yesNo(r.GetLeader()) }},
		{"VERSION", func(r m) string { return r.GetVersion() }},
	}
}

func (a *app) membersCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "members",
		Short: "List the masters of the cluster",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListMembers, &v1.ListMembersRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, memberColumns(), res.GetMembers())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
