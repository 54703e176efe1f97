package main

import (
	"context"
	"fmt"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func (a *app) operatorCommand() *cobra.Command {
	return group("operator", "Repair the cluster's membership", a.removePeerCommand())
}

func (a *app) removePeerCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove-peer ID",
		Short: "Remove a master from the Raft configuration",
		Long: `Remove a master from the Raft configuration, for a master that is gone for
good and will not leave by itself. The master at --addr forwards the change to
the leader.`,
		Args: oneArg("member ID"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.RemovePeer, &v1.RemovePeerRequest{Id: args[0]}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "removed peer %s\n", tableCell(args[0]))
			return err
		}),
	}
}
