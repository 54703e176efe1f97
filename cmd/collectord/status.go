package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/localapi"
)

type statusFlags struct {
	output string
	socket string
	addr   string
	config string
}

func statusCommand() command {
	var f statusFlags
	return command{
		name:  "status",
		short: "Show the running collector's state (from its local API)",
		long: "Show the running collector's state, read from its local API: over -socket, over -addr,\n" +
			"or where -config says it listens; by default the default socket, then " + config.DefaultListen + ".",
		setup: func(fs *flag.FlagSet) func(context.Context, io.Writer, io.Writer) error {
			fs.StringVar(&f.output, "output", "table", "table or json")
			fs.StringVar(&f.output, "o", "table", "shorthand for -output")
			fs.StringVar(&f.socket, "socket", "", "local API unix socket")
			fs.StringVar(&f.addr, "addr", "", "local API TCP address (host:port)")
			fs.StringVar(&f.config, "config", "", "the collector's config file, to find its local API")
			fs.StringVar(&f.config, "c", "", "shorthand for -config")
			return func(ctx context.Context, stdout, _ io.Writer) error {
				if f.output != "table" && f.output != "json" {
					return fmt.Errorf("-o %q: want table or json", f.output)
				}
				targets, err := statusTargets(f)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				raw, st, err := fetchStatus(ctx, targets)
				if err != nil {
					return err
				}
				if f.output == "json" {
					_, err := stdout.Write(raw)
					return err
				}
				return printStatus(stdout, st, time.Now())
			}
		},
	}
}

// target is one place the local API may be.
type target struct {
	socket, addr string
}

func (t target) String() string {
	if t.socket != "" {
		return "socket " + t.socket
	}
	return t.addr
}

func statusTargets(f statusFlags) ([]target, error) {
	switch {
	case f.socket != "":
		return []target{{socket: f.socket}}, nil
	case f.addr != "":
		return []target{{addr: f.addr}}, nil
	case f.config != "":
		cfg, err := config.Load(f.config, os.LookupEnv, nil)
		if err != nil {
			return nil, err
		}
		var ts []target
		if cfg.Socket != "" {
			ts = append(ts, target{socket: cfg.Socket})
		}
		if cfg.Listen != "" {
			ts = append(ts, target{addr: cfg.Listen})
		}
		if len(ts) == 0 {
			return nil, errors.New("the config disables both listen and socket: the local API is off")
		}
		return ts, nil
	}
	d := config.DefaultConfig()
	return []target{{socket: d.Socket}, {addr: d.Listen}}, nil
}

// fetchStatus reads GET /v1/status from the first target that answers.
func fetchStatus(ctx context.Context, targets []target) ([]byte, localapi.Status, error) {
	var errs []error
	for _, t := range targets {
		raw, st, err := fetchOne(ctx, t)
		if err == nil {
			return raw, st, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
	}
	return nil, localapi.Status{}, fmt.Errorf("cannot reach the collector's local API (is collectord running?): %w", errors.Join(errs...))
}

func fetchOne(ctx context.Context, t target) ([]byte, localapi.Status, error) {
	raw, err := localGet(ctx, t, "/v1/status")
	if err != nil {
		return nil, localapi.Status{}, err
	}
	var st localapi.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, localapi.Status{}, fmt.Errorf("not a collectord status: %w", err)
	}
	return raw, st, nil
}

// localGet reads path from the local API at t and returns the body of a 200
// answer (at most 1 MiB).
func localGet(ctx context.Context, t target, path string) ([]byte, error) {
	tr := &http.Transport{}
	base := "http://" + t.addr
	if t.socket != "" {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", t.socket)
		}
		base = "http://collectord"
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}

// printStatus renders the status as an aligned table.
func printStatus(w io.Writer, s localapi.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	or := func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	}
	row("collector", "%s", or(s.CollectorID, "(not enrolled)"))
	row("cluster", "%s", or(s.ClusterID, "-"))
	row("phase", "%s", s.Phase)
	row("version", "%s (protocol %d)", s.Version, s.ProtocolVersion)
	master := or(s.CurrentMaster, "(none yet)")
	if s.MasterNodeID != "" {
		master += " (node " + s.MasterNodeID + ")"
	}
	if s.Protocol != "" {
		master += " via " + s.Protocol
	}
	row("master", "%s [transport %s]", master, s.Transport)
	row("masters", "%s", strings.Join(s.Masters, ", "))
	row("last contact", "%s", ago(s.LastContact, now))
	if s.LeaseTTLMS > 0 {
		row("lease ttl", "%s", (time.Duration(s.LeaseTTLMS) * time.Millisecond).String())
	}
	l := s.Leases
	row("leases", "%d held (%d valid, %d expired), %d lost, %d releasing; max %d",
		l.Held, l.Valid, l.Expired, l.Lost, l.Releasing, s.MaxLeases)
	if s.CertNotAfter != "" {
		row("certificate", "ends %s, renews %s", until(s.CertNotAfter, now), until(s.CertRenewAt, now))
	}
	if s.SigningKeyMismatch {
		row("warning", "a master announces a different lease signing key than the one from enrollment")
	}
	if s.LastError != "" {
		row("last error", "%s", s.LastError)
	}
	if u := s.Usage; u != nil {
		row("usage", "installation %s: %d samples, %d records pending (%d bytes), %d acknowledged, last ack %s",
			u.Installation, u.Samples, u.Pending, u.PendingBytes, u.RecordsAcked, ago(u.LastAck, now))
		if u.DroppedFull > 0 {
			row("usage warning", "the spool was full and dropped %d unsent records", u.DroppedFull)
		}
		if u.LastError != "" {
			row("usage error", "%s (%d failures in a row)", u.LastError, u.FailuresInRow)
		}
	}
	return tw.Flush()
}

func ago(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "never"
	}
	return fmt.Sprintf("%s (%s ago)", ts, now.Sub(t).Round(time.Second))
}

func until(ts string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d < 0 {
		return fmt.Sprintf("%s (%s ago)", ts, -d)
	}
	return fmt.Sprintf("%s (in %s)", ts, d)
}
