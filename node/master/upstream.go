package master

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/version"
)

// The cluster and its vendor's hub (promises P2 and P4).
//
// The leader runs the sync: it seals what changed into the next batch of
// the cluster's chain (through Raft, so the batch exists before anyone
// sends it), pushes the outbox to the hub, and commits the hub's
// acknowledgement. A kill between any two steps leaves a state the next
// leader resumes from: an unsealed change is still marked, a sealed batch
// is still in the outbox, and a batch the hub got twice is a duplicate
// there. While the hub is unreachable the leader backs off with jitter and
// seals nothing new (the one batch waiting will carry everything when the
// hub is back, since batches hold states, not increments); nothing is lost
// however long that lasts.
//
// The license check runs on the leader too, every license_check_interval:
// licenses the hub issued or renewed for this cluster are added, revoked
// ones removed, and the outcome committed so every master can show it.

const (
	// pushBatches bounds the batches of one push.
	pushBatches = 32
	// hubTimeout bounds one call to the hub.
	hubTimeout = 30 * time.Second
	// minBackoff and maxBackoff bound the wait after a failed sync.
	minBackoff = 2 * time.Second
	maxBackoff = 10 * time.Minute
)

// syncState is the leader's view of its sync loop, for status.
type syncState struct {
	mu          sync.Mutex
	lastSync    time.Time
	lastErr     string
	lastErrAt   time.Time
	nextAttempt time.Time
	checkErr    string
	failures    int
}

func (st *syncState) failed(err error, now time.Time) time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failures++
	st.lastErr, st.lastErrAt = err.Error(), now
	d := min(minBackoff<<min(st.failures-1, 10), maxBackoff)
	// Full jitter in the upper half: masters of many sites that lost the
	// hub at once do not come back in step.
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	st.nextAttempt = now.Add(d)
	return d
}

func (st *syncState) succeeded(now time.Time, next time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failures, st.lastSync, st.nextAttempt = 0, now, now.Add(next)
}

// hubClient returns an UpstreamService client for the hub at url, trusting
// the PEM certificates caPEM (the hub's certificate or its CA, pinned at
// activation) or, when empty, the system's roots: never any certificate.
func hubClient(url string, caPEM []byte, apiKey string) (licmeshv1connect.UpstreamServiceClient, error) {
	tc, err := hubTLS(caPEM)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: hubTimeout, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true,
		Proxy: http.ProxyFromEnvironment, IdleConnTimeout: 90 * time.Second}}
	var opts []connect.ClientOption
	if apiKey != "" {
		opts = append(opts, connect.WithInterceptors(bearer(apiKey)))
	}
	return licmeshv1connect.NewUpstreamServiceClient(hc, strings.TrimRight(url, "/"), opts...), nil
}

// hubTLS trusts the hub's pinned CA, or the system's roots without one.
func hubTLS(caPEM []byte) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%w: the hub CA holds no PEM certificate", ErrBadRequest)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// bearer adds an API key to every call.
func bearer(key string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}
}

// clusterKey is the cluster's signing key, which signs leases, batches and
// proofs alike.
func (s *Server) clusterKey() (ed25519.PrivateKey, error) {
	info, ok := s.fsm.Cluster()
	if !ok || len(info.SigningKey) != ed25519.SeedSize {
		return nil, errors.New("master: the cluster is not bootstrapped yet")
	}
	return ed25519.NewKeyFromSeed(info.SigningKey), nil
}

// activationRequest makes the cluster's signed activation request.
func (s *Server) activationRequest() (upstream.Signed, error) {
	key, err := s.clusterKey()
	if err != nil {
		return upstream.Signed{}, err
	}
	var skus []license.SKU
	for _, l := range s.fsm.Licenses() {
		if !slices.Contains(skus, l.Product.SKU) {
			skus = append(skus, l.Product.SKU)
		}
	}
	st := s.fsm.Upstream()
	return upstream.SealRequest(upstream.ActivationRequest{ClusterID: license.ClusterID(s.id.clusterID), Products: skus,
		Versions: s.versions(), ChainSeq: st.Acked, ChainHash: st.AckedHash, CreatedAt: s.now().UTC()}, key)
}

// versions are the releases the cluster's masters (as gossip reports them)
// and its collectors (as they last said) run, each once.
func (s *Server) versions() upstream.Versions {
	var vs upstream.Versions
	add := func(list *[]string, v string) {
		if v != "" && !slices.Contains(*list, v) && len(*list) < 64 {
			*list = append(*list, v)
		}
	}
	add(&vs.Masters, version.Version)
	for _, m := range s.members() {
		add(&vs.Masters, m.GetVersion())
	}
	for _, c := range s.fsm.Collectors() {
		add(&vs.Collectors, c.Version)
	}
	slices.Sort(vs.Masters)
	slices.Sort(vs.Collectors)
	return vs
}

// addLicenses verifies and adds licenses the hub sent, skipping those the
// cluster holds or holds newer versions of. It returns the IDs added.
func (s *Server) addLicenses(ctx context.Context, texts []string) ([]string, error) {
	var added []string
	for _, text := range texts {
		l, err := s.verifyLicense([]byte(text))
		if err != nil {
			return added, fmt.Errorf("master: a license from the hub does not verify: %w", err)
		}
		if _, ok := s.fsm.License(l.ID); ok {
			continue
		}
		_, err = s.apply(ctx, fsm.AddLicenseType, fsm.AddLicense{Text: []byte(text), Now: s.now().UnixMilli()})
		switch {
		case err == nil:
			added = append(added, string(l.ID))
		case errors.Is(err, fsm.ErrLicenseExists), errors.Is(err, fsm.ErrLicenseOutdated):
		default:
			return added, err
		}
	}
	return added, nil
}

// upstreamLoop is the leader's sync and license check, until ctx ends.
func (s *Server) upstreamLoop(ctx context.Context) {
	var wait time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(wait):
		case <-s.syncNudge:
		}
		st := s.fsm.Upstream()
		if !st.Activated {
			wait = time.Second
			continue
		}
		now := s.now()
		sinceCheck := now.Sub(time.UnixMilli(st.Check.At))
		// Approved purchase requests go up within a minute, not a day.
		quotes := sinceCheck >= time.Minute && len(s.quotesToSend()) > 0
		if st.Check.At == 0 || sinceCheck >= s.cfg.LicenseCheckInterval || quotes {
			if _, err := s.checkLicenses(ctx); err != nil && ctx.Err() == nil {
				s.sync.mu.Lock()
				s.sync.checkErr = err.Error()
				s.sync.mu.Unlock()
				s.log.Warn("license check with the hub failed", "err", err)
			}
		}
		if err := s.syncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = s.sync.failed(err, s.now())
			s.log.Warn("usage sync with the hub failed; retrying", "err", err, "in", wait.Round(time.Millisecond))
			continue
		}
		wait = s.cfg.UpstreamSyncInterval
		s.sync.succeeded(s.now(), wait)
	}
}

// seal drafts the next batch from marked periods (or, with since, from
// every period from that month on), signs it and commits it to the outbox.
// ok is false when there was nothing to seal.
func (s *Server) seal(ctx context.Context, draft func(max int) (*upstream.Batch, []fsm.Mark, bool)) (bool, error) {
	key, err := s.clusterKey()
	if err != nil {
		return false, err
	}
	for max := upstream.MaxBatchRecords; max >= 1; max /= 2 {
		b, marks, ok := draft(max)
		if !ok {
			return false, nil
		}
		signed, err := upstream.SealBatch(b, key)
		if errors.Is(err, upstream.ErrTooLarge) {
			continue
		}
		if err != nil {
			return false, err
		}
		raw := signed.Marshal()
		if len(raw) > fsm.MaxSealedBatchBytes {
			continue
		}
		_, err = s.apply(ctx, fsm.SealUpstreamType, fsm.SealUpstream{Batch: raw, Marks: marks, Now: s.now().UnixMilli()})
		return err == nil, err
	}
	return false, errors.New("master: one usage record does not fit a batch")
}

func (s *Server) sealMarked(ctx context.Context) (bool, error) {
	return s.seal(ctx, func(max int) (*upstream.Batch, []fsm.Mark, bool) {
		return s.fsm.UpstreamDraft(max, s.now())
	})
}

// syncOnce pushes the outbox and seals what changed, until nothing is
// left or the hub fails.
func (s *Server) syncOnce(ctx context.Context) error {
	for round := 0; round < 64 && ctx.Err() == nil; round++ {
		if len(s.fsm.Outbox()) == 0 {
			sealed, err := s.sealMarked(ctx)
			if err != nil {
				return fmt.Errorf("sealing a usage batch: %w", err)
			}
			if !sealed {
				return nil
			}
		}
		if err := s.push(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// push sends the outbox to the hub and commits its acknowledgement.
func (s *Server) push(ctx context.Context) error {
	st := s.fsm.Upstream()
	out := s.fsm.Outbox()
	if len(out) == 0 {
		return nil
	}
	out = out[:min(len(out), pushBatches)]
	c, err := hubClient(st.Hub.URL, st.Hub.CAPEM, "")
	if err != nil {
		return err
	}
	req := &licmeshv1.PushUsageRequest{Backlog: uint32(st.Outbox - len(out) + st.Dirty)}
	for _, b := range out {
		req.Batches = append(req.Batches, b.Signed)
	}
	cctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	resp, err := c.PushUsage(cctx, connect.NewRequest(req))
	if err != nil {
		return fmt.Errorf("pushing usage batches %d..%d to %s: %w", out[0].Seq, out[len(out)-1].Seq, st.Hub.URL, err)
	}
	seq, hash := resp.Msg.GetSeq(), resp.Msg.GetHash()
	if seq < out[0].Seq {
		return fmt.Errorf("the hub holds usage batches up to %d only, after this cluster's batches %d..%d", seq, out[0].Seq, out[len(out)-1].Seq)
	}
	_, err = s.apply(ctx, fsm.AckUpstreamType, fsm.AckUpstream{Seq: seq, Hash: hash, Via: "online", Now: s.now().UnixMilli()})
	if err != nil {
		return fmt.Errorf("recording the hub's acknowledgement of batch %d: %w", seq, err)
	}
	s.log.Info("usage synced with the hub", "through_batch", seq, "accepted", resp.Msg.GetAccepted(), "duplicates", resp.Msg.GetDuplicates())
	return nil
}

// checkLicenses asks the hub for this cluster's licenses, adds new ones,
// removes revoked ones and commits the outcome.
func (s *Server) checkLicenses(ctx context.Context) (string, error) {
	st := s.fsm.Upstream()
	if !st.Activated {
		return "", fmt.Errorf("%w: the cluster is not activated with a hub", ErrBadRequest)
	}
	key, err := s.clusterKey()
	if err != nil {
		return "", err
	}
	proof, err := upstream.SealProof(license.ClusterID(s.id.clusterID), "check", s.now(), key)
	if err != nil {
		return "", err
	}
	c, err := hubClient(st.Hub.URL, st.Hub.CAPEM, "")
	if err != nil {
		return "", err
	}
	cctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	vs := s.versions()
	resp, err := c.CheckLicenses(cctx, connect.NewRequest(&licmeshv1.CheckLicensesRequest{Proof: proof.Marshal(),
		MasterVersions: vs.Masters, CollectorVersions: vs.Collectors, QuoteRequests: s.quotesToSend()}))
	if err != nil {
		return "", fmt.Errorf("license check with %s: %w", st.Hub.URL, err)
	}
	quotes, err := s.recordQuotes(ctx, resp.Msg.GetQuotesReceived(), resp.Msg.GetQuoteAnswers())
	if err != nil {
		return "", err
	}
	added, err := s.addLicenses(ctx, resp.Msg.GetLicenses())
	if err != nil {
		return "", err
	}
	var removed []string
	for _, id := range resp.Msg.GetRevoked() {
		if _, ok := s.fsm.License(license.LicenseID(id)); !ok {
			continue
		}
		if _, err := s.apply(ctx, fsm.RemoveLicenseType, fsm.RemoveLicense{ID: license.LicenseID(id), Now: s.now().UnixMilli()}); err != nil &&
			!errors.Is(err, fsm.ErrUnknownLicense) {
			return "", err
		}
		removed = append(removed, id)
	}
	summary := "no change"
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed revoked "+strings.Join(removed, ", "))
	}
	parts = append(parts, quotes...)
	if len(parts) > 0 {
		summary = strings.Join(parts, "; ")
	}
	if len(summary) > 1000 {
		summary = summary[:1000] + "…"
	}
	if _, err := s.apply(ctx, fsm.UpstreamCheckedType, fsm.UpstreamChecked{Summary: summary, Now: s.now().UnixMilli()}); err != nil {
		return "", err
	}
	s.sync.mu.Lock()
	s.sync.checkErr = ""
	s.sync.mu.Unlock()
	if len(parts) > 0 {
		s.log.Info("license check changed the cluster's licenses", "summary", summary)
	}
	return summary, nil
}
