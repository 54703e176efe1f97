package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/mesh/wire"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "collectord",
		Short:         "The licmesh collector agent",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newStatusCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "collectord %s (collector protocol %d)\n", version, wire.ProtocolVersion)
			return err
		},
	})
	return root
}
