package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/mesh/wire"
)

// The CLI is the standard library's flag package, not cobra as in meshctl:
// collectord runs on every product host for as long as the host is up, and
// cobra with pflag and text/template made its binary 0.3 MiB bigger, most of
// it mapped into the collector's resident set (bench G10, U2). Three
// commands with a dozen flags need none of it.

// command is one collectord subcommand. setup defines its flags on fs and
// returns what runs it once they are parsed.
type command struct {
	name, short, long string
	setup             func(fs *flag.FlagSet) func(ctx context.Context, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{runCommand(), statusCommand(), checkCommand(), {
		name:  "version",
		short: "Print the version",
		setup: func(*flag.FlagSet) func(context.Context, io.Writer, io.Writer) error {
			return func(_ context.Context, stdout, _ io.Writer) error {
				// The drivers depend on the build (collectors/sources), so
				// an operator can tell which collectord a host runs.
				drivers := cmp.Or(strings.Join(sources.SQLDrivers(), ", "), "none")
				_, err := fmt.Fprintf(stdout, "collectord %s (collector protocol %d)\nsql drivers: %s\n", version, wire.ProtocolVersion, drivers)
				return err
			}
		},
	}}
}

// runCommandLine runs the command args names. Flags may be written -name or
// --name, with the value after = or as the next argument; -h prints a
// command's help.
func runCommandLine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return printHelp(stdout, cmds)
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("collectord "+c.name, flag.ContinueOnError)
		// Parse errors come back to main, which prints them once; help
		// goes to stdout.
		fs.SetOutput(io.Discard)
		fs.Usage = func() {
			fmt.Fprintf(stdout, "Usage: collectord %s [flags]\n\n%s\n\nFlags:\n", c.name, cmp.Or(c.long, c.short))
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
		run := c.setup(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return fmt.Errorf("%s: %w (see collectord %[1]s -h)", c.name, err)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("%s: unexpected argument %q (see collectord %[1]s -h)", c.name, fs.Arg(0))
		}
		return run(ctx, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (see collectord help)", args[0])
}

func printHelp(w io.Writer, cmds []command) error {
	var b strings.Builder
	b.WriteString("The licmesh collector agent\n\nUsage: collectord COMMAND [flags]\n\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.short)
	}
	b.WriteString("\nRun collectord COMMAND -h for a command's flags.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// stringsFlag is a comma-separated list; given again, it adds to the list.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	if v != "" {
		*s = append(*s, strings.Split(v, ",")...)
	}
	return nil
}

// given reports which flags of fs the command line set.
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
