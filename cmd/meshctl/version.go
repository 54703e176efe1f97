package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/licmesh/licmesh/mesh/wire"
	"github.com/spf13/cobra"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print meshctl's version (the master's is in meshctl status)",
		Args:  noArgs,
		RunE: a.action(func(context.Context, []string) error {
			_, err := fmt.Fprintf(a.stdout, "meshctl %s (protocol %d, %s)\n", buildVersion(), wire.ProtocolVersion, runtime.Version())
			return err
		}),
	}
}

// buildVersion is the module version the binary was built from, with the
// VCS revision when the build recorded one.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" && v == "(devel)" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + dirty
	}
	return v
}
