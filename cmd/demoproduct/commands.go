package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/licmesh/licmesh/collectors/fakeproduct"
	"github.com/licmesh/licmesh/licensing/clock"
)

// parse parses args into fs; a bad flag or a stray argument is a usage error.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func needDB(db string) error {
	if db == "" {
		return usageError{errors.New("--db FILE is required")}
	}
	return nil
}

func createCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	db := fs.String("db", "", "the product database file to create (SQLite)")
	s := fakeproduct.Sizes{Users: 40, Cases: 200, Logons: 20, Span: 6 * time.Hour, Seed: 1}
	fs.IntVar(&s.Users, "users", s.Users, "rows in USERS")
	fs.IntVar(&s.Cases, "cases", s.Cases, "rows in APPLICATION")
	fs.IntVar(&s.Logons, "logons", s.Logons, "rows in LOGIN_LOG")
	fs.DurationVar(&s.Span, "span", s.Span, "how far back cases and logons go")
	fs.Uint64Var(&s.Seed, "seed", s.Seed, "the same seed and sizes give the same rows")
	demo := fs.Int("demo", -1, "take demo installation N's sizes (as `make run` does) instead of the flags above")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *demo >= 0 {
		s = fakeproduct.DemoSizes(*demo)
	}
	if err := needDB(*db); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return usageError{err}
	}
	sum, err := fakeproduct.Create(ctx, *db, s, time.Now())
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(sum)
}

func sourcesCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sources", flag.ContinueOnError)
	db := fs.String("db", "", "the product database file the source reads")
	interval := fs.Duration("interval", 10*time.Second, "how often the collector measures it")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := needDB(*db); err != nil {
		return err
	}
	if *interval < time.Second {
		return usageError{fmt.Errorf("--interval %v: at least 1s", *interval)}
	}
	_, err := io.WriteString(stdout, fakeproduct.SourcesYAML(*db, *interval))
	return err
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	db := fs.String("db", "", "the product database file (created with the demo sizes if missing)")
	demo := fs.Int("demo", 0, "which demo installation's sizes to create it with (0, 1, ...)")
	collector := fs.String("collector", "", "the local API of the collector beside it (http://127.0.0.1:PORT); empty: take no seats")
	pools := fs.String("pools", "", "comma-separated pools its users take seats in")
	users := fs.Int("session-users", 4, "users taking seats at once")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := needDB(*db); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: debug, info, warn or error", *logLevel)}
	}
	var poolList []string
	if *collector != "" {
		u, err := url.Parse(*collector)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError{fmt.Errorf("--collector %q: want http://HOST:PORT", *collector)}
		}
		for p := range strings.SplitSeq(*pools, ",") {
			if p = strings.TrimSpace(p); p != "" {
				poolList = append(poolList, p)
			}
		}
		if len(poolList) == 0 {
			return usageError{errors.New("--collector needs --pools")}
		}
		if *users < 1 || *users > 100 {
			return usageError{fmt.Errorf("--session-users %d: between 1 and 100", *users)}
		}
	}
	if *demo < 0 {
		return usageError{fmt.Errorf("--demo %d: must not be negative", *demo)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if _, err := fakeproduct.Create(ctx, *db, fakeproduct.DemoSizes(*demo), time.Now()); err != nil && !errors.Is(err, fakeproduct.ErrExists) {
		return err
	}
	p, err := fakeproduct.Open(*db)
	if err != nil {
		return err
	}
	defer p.Close()
	log.Info("demoproduct: running", "db", *db, "collector", *collector, "pools", poolList)
	done := make(chan struct{})
	if *collector != "" {
		s := &sessions{base: strings.TrimRight(*collector, "/"), pools: poolList, log: log, seed: uint64(*demo)}
		go func() { defer close(done); s.run(ctx, *users) }()
	} else {
		close(done)
	}
	p.Run(ctx, clock.System{}, func(err error) { log.Warn("demoproduct: changing the database failed", "err", err) })
	<-done
	log.Info("demoproduct: stopped")
	return nil
}
