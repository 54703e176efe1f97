package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/licmesh/licmesh/collectors/sources"
)

// checkCommand checks a usage sources file as run would load it, with this
// binary's drivers. A collector runs it with a staged update before it
// swaps, so that a build lacking a driver its sources need is refused with
// that reason rather than installed and left unable to start.
func checkCommand() command {
	var file string
	return command{
		name:  "check",
		short: "Check a usage sources file against this binary (its SQL drivers included)",
		long: "Check a usage sources file as run would load it: every source valid, and the SQL\n" +
			"drivers they name built into this binary. Nothing is connected to.",
		setup: func(fs *flag.FlagSet) func(context.Context, io.Writer, io.Writer) error {
			fs.StringVar(&file, "sources", "", "the usage sources file (usage.sources_file)")
			return func(_ context.Context, stdout, _ io.Writer) error {
				if file == "" {
					return errors.New("check: -sources FILE is needed")
				}
				if err := checkSources(file); err != nil {
					return err
				}
				_, err := fmt.Fprintf(stdout, "%s: ok\n", file)
				return err
			}
		},
	}
}

// checkSources loads the file's sources and makes them, as openMeter does,
// then closes them: pools are opened lazily, so nothing is connected to.
func checkSources(file string) error {
	cfgs, err := sources.LoadFile(file)
	if err != nil {
		return fmt.Errorf("usage.sources_file %s: %w", file, err)
	}
	key := make([]byte, 32) // a throwaway: no pseudonym is made
	_, _ = rand.Read(key)
	jobs, err := sources.Jobs(cfgs, sources.Options{HashKey: key, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("usage.sources_file %s: %w", file, err)
	}
	for _, j := range jobs {
		j.Source.Close()
	}
	return nil
}
