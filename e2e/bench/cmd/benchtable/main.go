// Command benchtable runs the licmesh benchmarks and prints one table of
// results; it is what `make bench` runs.
//
//	benchtable [-only B0,B1,G1] [-json] [-duration 3s] [-warmup 500ms] ...
//
// The G measurements start real meshd processes from $LICMESH_BIN (make
// build puts them in ./bin), or build them first when it is unset.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/licmesh/licmesh/e2e/bench"
)

// errGoalMissed makes -strict runs exit non-zero when a goal is missed.
var errGoalMissed = errors.New("benchtable: a goal was missed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "", "comma-separated measurement IDs to run (default: all)")
	asJSON := fs.Bool("json", false, "print the table as JSON")
	list := fs.Bool("list", false, "list the measurements and exit")
	strict := fs.Bool("strict", false, "exit non-zero when a goal is missed")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	conc := fs.String("concurrency", joinInts(cfg.Concurrency), "comma-separated concurrency levels for throughput runs")
	fs.StringVar(&cfg.Dir, "dir", cfg.Dir, "directory for temp files (default: OS temp dir, the disk tests use)")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "directory for the masters' CPU and allocation profiles over G2's windows")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured window of each throughput run")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured warm-up before each window")
	fs.IntVar(&cfg.FsyncSamples, "fsync-samples", cfg.FsyncSamples, "write+fdatasync samples")
	fs.IntVar(&cfg.TCPSamples, "tcp-samples", cfg.TCPSamples, "loopback TCP ping-pong samples")
	fs.IntVar(&cfg.UDPSamples, "udp-samples", cfg.UDPSamples, "loopback UDP ping-pong samples")
	gconc := fs.String("mesh-concurrency", joinInts(cfg.Mesh.Concurrency), "comma-separated G1 concurrency levels (each also a -concurrency level)")
	fs.IntVar(&cfg.Mesh.Collectors, "collectors", cfg.Mesh.Collectors, "enrolled collectors driving G1 and G3")
	fs.IntVar(&cfg.Mesh.RenewWorkers, "renew-workers", cfg.Mesh.RenewWorkers, "G3 concurrent renewers")
	fs.IntVar(&cfg.Mesh.LeasesPerWorker, "leases-per-worker", cfg.Mesh.LeasesPerWorker, "G3 leases each renewer holds and renews per call")
	fs.IntVar(&cfg.Mesh.FailoverTrials, "failover-trials", cfg.Mesh.FailoverTrials, "G4 leader kills")
	fs.DurationVar(&cfg.IdleWindow, "idle-window", cfg.IdleWindow, "G10: how long to watch the idle collector")
	fs.IntVar(&cfg.Usage.Samples, "usage-samples", cfg.Usage.Samples, "U1: usage samples each mode ingests")
	fs.IntVar(&cfg.Usage.BatchRecords, "usage-batch", cfg.Usage.BatchRecords, "U1: samples per call when batched")
	fs.DurationVar(&cfg.Usage.Window, "usage-window", cfg.Usage.Window, "U2: how long to watch the metering collector")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	levels, err := parseInts(*conc)
	if err != nil {
		return fmt.Errorf("-concurrency: %w", err)
	}
	cfg.Concurrency = levels
	if cfg.Mesh.Concurrency, err = parseInts(*gconc); err != nil {
		return fmt.Errorf("-mesh-concurrency: %w", err)
	}
	// Masters' log tails, printed only when a measurement fails.
	cfg.Mesh.Log = stderr

	reg := bench.DefaultRegistry()
	if *list {
		for _, m := range reg.All() {
			fmt.Fprintf(stdout, "%s\t%s\n", m.ID, m.Name)
		}
		return nil
	}
	var ids []string
	if *only != "" {
		ids = strings.Split(*only, ",")
	}
	ms, err := reg.Select(ids)
	if err != nil {
		return err
	}
	sess, err := bench.NewSession(cfg)
	if err != nil {
		return err
	}

	var progress func(bench.Measurement)
	if !*quiet {
		progress = func(m bench.Measurement) {
			fmt.Fprintf(stderr, "%s %s: %s ...\n", time.Now().Format("15:04:05"), m.ID, m.Name)
		}
	}
	table, runErr := sess.Run(ctx, ms, progress)
	if *asJSON {
		err = table.WriteJSON(stdout)
	} else {
		err = table.WriteText(stdout)
	}
	switch {
	case runErr != nil:
		return runErr
	case err != nil:
		return err
	case *strict && table.Missed():
		return errGoalMissed
	}
	return nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}
