package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// sessions are the product's users taking seats through the collector's
// local API, as the product would: a user signs in (acquire), works a
// while (the collector renews the lease), signs out (release). A refusal
// (the pool is full, no master) is what a real product shows its user; the
// user tries again a little later.
type sessions struct {
	base  string
	pools []string
	log   *slog.Logger
	seed  uint64
	hc    http.Client
}

func (s *sessions) run(ctx context.Context, users int) {
	s.hc.Timeout = 10 * time.Second
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() { s.user(ctx, u) })
	}
	wg.Wait()
}

func (s *sessions) user(ctx context.Context, u int) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(u)))
	for ctx.Err() == nil {
		pool := s.pools[rng.IntN(len(s.pools))]
		holder := fmt.Sprintf("user-%d-%d", s.seed+1, rng.IntN(6))
		var l struct {
			ID uint64 `json:"id"`
		}
		if err := s.call(ctx, "POST", "/v1/leases", map[string]string{"pool": pool, "holder": holder}, &l); err != nil {
			s.log.Debug("demoproduct: no seat", "pool", pool, "holder", holder, "err", err)
			sleep(ctx, time.Duration(1+rng.IntN(3))*time.Second)
			continue
		}
		sleep(ctx, time.Duration(3+rng.IntN(25))*time.Second)
		if ctx.Err() != nil {
			// The collector releases what it holds when it stops.
			return
		}
		if err := s.call(ctx, "DELETE", fmt.Sprintf("/v1/leases/%d", l.ID), nil, nil); err != nil {
			s.log.Debug("demoproduct: release failed", "lease_id", l.ID, "err", err)
		}
		sleep(ctx, time.Duration(rng.IntN(3000))*time.Millisecond)
	}
}

// call sends one local API request; a status other than 2xx is an error
// carrying the API's message.
func (s *sessions) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
