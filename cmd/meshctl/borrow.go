package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	collectorconfig "github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/localapi"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

// leaseBorrowCommand lends a holder a seat through the collector beside
// the product (its local API), as the product itself would ask: the
// collector is the one that keeps the borrowed seat offline.
func (a *app) leaseBorrowCommand() *cobra.Command {
	var (
		out                 format
		local, pool, holder string
		forText             string
		d                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "borrow --pool P --holder H --for 3d [--local URL]",
		Short: "Borrow a seat for a holder, to work with no master until it ends",
		Long: `Borrow a seat of a pool for a holder, through the collector on this machine
(its local API, --local): the masters lend it for --for, at most the pool's
maximum borrow period as its license says, and the collector and the product
verify it with no master at all until then. Releasing the lease returns it
early. The pool's licenses must allow borrowing.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if err := lease.ValidatePoolName(pool); err != nil {
				return usagef("--pool: %v", err)
			}
			if err := lease.ValidateField("holder", holder, lease.MaxHolderLen); err != nil {
				return usagef("--holder: %v", err)
			}
			v, err := license.ParseDuration(forText)
			if err != nil {
				return usagef("--for %q: %v", forText, err)
			}
			if d = time.Duration(v); d < time.Second || d > lease.MaxBorrow {
				return usagef("--for %s: want 1s to %s", forText, termDuration(lease.MaxBorrow.Milliseconds()))
			}
			if out == formatCSV {
				return usagef("-o csv: a borrow prints one lease; use table or json")
			}
			u, err := url.Parse(local)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usagef("--local %q: want the collector's local API URL, like http://%s", local, collectorconfig.DefaultListen)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			l, err := borrowThrough(ctx, local, localapi.BorrowRequest{Pool: pool, Holder: holder, Duration: forText})
			if err != nil {
				return err
			}
			switch out {
			case formatJSON:
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(l)
			}
			return writeRows(a.stdout, [][]string{
				{"LEASE", strconv.FormatUint(l.ID, 10)}, {"POOL", l.Pool}, {"HOLDER", l.Holder},
				{"STATE", l.State}, {"UNTIL", l.ValidUntil}, {"TOKEN", l.Token},
			})
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&local, "local", "http://"+collectorconfig.DefaultListen, "the local API of the collector that will hold the seat")
	fs.StringVar(&pool, "pool", "", "the pool to borrow from")
	fs.StringVar(&holder, "holder", "", "who borrows it")
	fs.StringVar(&forText, "for", "", `how long, like "72h" or "3d"`)
	_ = cmd.MarkFlagRequired("pool")
	_ = cmd.MarkFlagRequired("holder")
	_ = cmd.MarkFlagRequired("for")
	addOutputFlag(fs, &out)
	return cmd
}

// borrowThrough asks a collector's local API for a borrow.
func borrowThrough(ctx context.Context, base string, req localapi.BorrowRequest) (localapi.Lease, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return localapi.Lease{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/leases/borrow", bytes.NewReader(body))
	if err != nil {
		return localapi.Lease{}, usagef("--local: %v", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return localapi.Lease{}, fail(errTimeout, "the collector at %s did not answer in time", base)
		}
		return localapi.Lease{}, fail(errUnreachable, "the collector at %s: %w (is collectord running, and is this its local API?)", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return localapi.Lease{}, fail(errServer, "the collector at %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e localapi.ErrorResponse
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			return localapi.Lease{}, fail(errServer, "the collector at %s answered %s", base, resp.Status)
		}
		kind := errRejected
		if resp.StatusCode >= 500 {
			kind = errUnavailable
		}
		return localapi.Lease{}, fail(kind, "the collector at %s refused the borrow (%s): %s", base, e.Code, e.Error)
	}
	var l localapi.Lease
	if err := json.Unmarshal(raw, &l); err != nil {
		return localapi.Lease{}, fail(errServer, "the collector at %s sent a lease meshctl cannot read: %w", base, err)
	}
	return l, nil
}
