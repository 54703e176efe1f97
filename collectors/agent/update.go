package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/selfupdate"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Actions of an update order.
const (
	ActionInstall  = "install"
	ActionRollback = "rollback"
)

// Update states shown in Status.
const (
	// UpdateIgnored: updates_managed is off, the order was ignored.
	UpdateIgnored = "ignored"
	// UpdateDownloading: fetching and checking the new build.
	UpdateDownloading = "downloading"
	// UpdateRestarting: swapped; the collector is restarting into it.
	UpdateRestarting = "restarting"
	// UpdateTrial: freshly updated, waiting to be healthy.
	UpdateTrial = "trial"
	// UpdateReverting: unhealthy; the previous build is being put back.
	UpdateReverting = "reverting"
	// UpdateReporting: done, telling the masters.
	UpdateReporting = "reporting"
	// UpdateDone: the masters know it succeeded.
	UpdateDone = "done"
	// UpdateFailed: the masters know it failed; Detail says why.
	UpdateFailed = "failed"
)

const (
	// PendingFile is the update marker's name in data_dir.
	PendingFile = "update.pending"
	// downloadTimeout bounds the download of a build from one master.
	downloadTimeout = 10 * time.Minute
	// maxArtifactBytes bounds the build an order may announce.
	maxArtifactBytes = 1 << 30
)

// UpdateStatus is the update this run of the collector last worked on.
type UpdateStatus struct {
	RolloutID string
	Action    string
	// Target is the version the order asks for.
	Target string
	// State is one of the Update* states.
	State string
	// Detail says what the update waits for, or why it failed.
	Detail string
	// Since is when State was entered.
	Since time.Time
}

// orderKey identifies an order: one is handled once per process.
type orderKey struct{ rollout, action, version string }

func keyOf(o *licmeshv1.UpdateOrder) orderKey {
	return orderKey{o.GetRolloutId(), o.GetAction(), o.GetVersion()}
}

// updater is the agent's update state. Orders arrive on the entitlement
// stream and are handled, one at a time, by runUpdates: the stream never
// waits for an update, and neither do leases.
type updater struct {
	// orders holds the latest order not yet looked at.
	orders chan *licmeshv1.UpdateOrder
	// gotDoc is closed at the first entitlement document a master sends
	// in this run, one sign of health.
	gotDoc  chan struct{}
	docOnce sync.Once
	// exe is the binary an update replaces; exeErr why it is unknown.
	exe    string
	exeErr error

	mu      sync.Mutex
	handled map[orderKey]bool
	status  *UpdateStatus
	restart bool
	stop    context.CancelFunc // ends Run for a restart; nil outside Run
}

func newUpdater(exe string) *updater {
	u := &updater{
		orders:  make(chan *licmeshv1.UpdateOrder, 1),
		gotDoc:  make(chan struct{}),
		handled: map[orderKey]bool{},
	}
	if exe == "" {
		exe, u.exeErr = selfupdate.Executable()
	}
	u.exe = exe
	return u
}

// claim marks an order handled and reports whether it was not already.
func (u *updater) claim(k orderKey) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.handled[k] {
		return false
	}
	u.handled[k] = true
	return true
}

// pendingPath is where the update marker lives.
func (a *Agent) pendingPath() string { return filepath.Join(a.cfg.DataDir, PendingFile) }

// noteDocument records that a master sent an entitlement document.
func (a *Agent) noteDocument() {
	a.upd.docOnce.Do(func() { close(a.upd.gotDoc) })
}

// offerUpdate hands an order from the stream to runUpdates without waiting:
// a newer order replaces one not yet looked at.
func (a *Agent) offerUpdate(o *licmeshv1.UpdateOrder) {
	if o == nil {
		return
	}
	a.upd.mu.Lock()
	done := a.upd.handled[keyOf(o)]
	a.upd.mu.Unlock()
	if done {
		return
	}
	for {
		select {
		case a.upd.orders <- o:
			return
		default:
		}
		select {
		case <-a.upd.orders:
		default:
		}
	}
}

// runUpdates finishes an update the previous run started (a trial, or the
// report of a revert), then handles orders until ctx ends or the collector
// must restart.
func (a *Agent) runUpdates(ctx context.Context) {
	a.resumeUpdate(ctx)
	for !a.restarting() {
		select {
		case <-ctx.Done():
			return
		case o := <-a.upd.orders:
			a.handleOrder(ctx, o)
		}
	}
}

// handleOrder carries out one order, unless it was handled already in this
// process.
func (a *Agent) handleOrder(ctx context.Context, o *licmeshv1.UpdateOrder) {
	key := keyOf(o)
	if !a.upd.claim(key) {
		return
	}
	log := a.log.With("rollout_id", clip(key.rollout, 128), "action", clip(key.action, 32), "version", clip(key.version, 128))
	if !a.cfg.UpdatesManaged {
		log.Info("collectord: ignoring an update order: updates_managed is off")
		a.setUpdate(key, UpdateIgnored, "updates_managed is off")
		return
	}
	if err := checkOrder(o); err != nil {
		log.Warn("collectord: refusing an update order", "error", err)
		a.finishUpdate(ctx, key, false, err.Error())
		return
	}
	if key.version == a.opts.Version {
		log.Info("collectord: update order: this version is already running")
		a.finishUpdate(ctx, key, true, "")
		return
	}
	log.Info("collectord: update order received", "running", a.opts.Version)
	err := a.applyOrder(ctx, o, log)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Stopping: nothing was swapped, and the next run sees the order
		// again.
	default:
		log.Warn("collectord: update failed; staying on the running version", "error", err)
		a.finishUpdate(ctx, key, false, err.Error())
	}
}

// applyOrder swaps in the ordered version and asks Run to restart into it.
// On failure nothing is swapped and no marker is left.
func (a *Agent) applyOrder(ctx context.Context, o *licmeshv1.UpdateOrder, log *slog.Logger) error {
	key := keyOf(o)
	exe, err := a.upd.exe, a.upd.exeErr
	if err != nil {
		return fmt.Errorf("cannot tell which file this binary is: %w", err)
	}
	if key.action == ActionRollback {
		if prev, err := selfupdate.PrevVersion(ctx, exe); err == nil && prev == key.version {
			log.Info("collectord: update: the previous binary is the version asked for; putting it back", "binary", exe)
			if err := selfupdate.WritePending(a.pendingPath(), a.newPending(key)); err != nil {
				return err
			}
			if err := selfupdate.Revert(exe); err != nil {
				_ = selfupdate.ClearPending(a.pendingPath())
				return fmt.Errorf("put the previous binary back: %w", err)
			}
			a.restartInto(key, log)
			return nil
		}
	}
	art, err := pickArtifact(o.GetArtifacts(), runtime.GOOS, runtime.GOARCH)
	if err != nil {
		return err
	}
	a.setUpdate(key, UpdateDownloading, "")
	log.Info("collectord: update: downloading the new build", "sha256", art.GetSha256(), "size", art.GetSize())
	if err := a.fetchAndStage(ctx, exe, art, key.version); err != nil {
		return err
	}
	log.Info("collectord: update: the new build is staged and says the right version", "binary", exe+selfupdate.NextSuffix)
	if err := a.checkStaged(ctx, exe+selfupdate.NextSuffix); err != nil {
		_ = selfupdate.Discard(exe)
		return err
	}
	if err := selfupdate.WritePending(a.pendingPath(), a.newPending(key)); err != nil {
		_ = selfupdate.Discard(exe)
		return err
	}
	if err := selfupdate.Swap(exe); err != nil {
		_ = selfupdate.Discard(exe)
		_ = selfupdate.ClearPending(a.pendingPath())
		return err
	}
	log.Info("collectord: update: swapped; the previous binary is kept", "binary", exe, "previous", exe+selfupdate.PrevSuffix)
	a.restartInto(key, log)
	return nil
}

// checkStaged has the staged build check this collector's usage sources
// (collectord check): a build that lacks a SQL driver they name (a
// release's collectord built for another database) is refused with that
// reason, rather than swapped in and left unable to start. A build from
// before the check command has nothing to say, and is judged by its trial.
func (a *Agent) checkStaged(ctx context.Context, next string) error {
	if a.cfg.Usage.SourcesFile == "" {
		return nil
	}
	_, err := selfupdate.Run(ctx, next, "check", "-sources", a.cfg.Usage.SourcesFile)
	if err == nil || strings.Contains(err.Error(), `unknown command "check"`) {
		return nil
	}
	return fmt.Errorf("the new build cannot load this collector's usage sources: %s", clip(err.Error(), 500))
}

// newPending is the marker for a swap to key's version from the running one.
func (a *Agent) newPending(key orderKey) selfupdate.Pending {
	now := a.clock.Now()
	return selfupdate.Pending{RolloutID: key.rollout, Action: key.action, From: a.opts.Version, To: key.version,
		StartedAt: now.UTC().Round(0), Deadline: now.Add(a.cfg.UpdateTrialTimeout).UTC().Round(0)}
}

// restartInto ends Run so that the collector restarts into the binary now in
// place. Leases are not released: a restart is not a release.
func (a *Agent) restartInto(key orderKey, log *slog.Logger) {
	a.setUpdate(key, UpdateRestarting, "")
	log.Info("collectord: update: restarting; leases are kept", "mode", a.cfg.UpdateRestart)
	a.upd.mu.Lock()
	a.upd.restart = true
	stop := a.upd.stop
	a.upd.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// restarting reports whether an update asked Run to end for a restart.
func (a *Agent) restarting() bool {
	a.upd.mu.Lock()
	defer a.upd.mu.Unlock()
	return a.upd.restart
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkOrder validates an order from a master.
func checkOrder(o *licmeshv1.UpdateOrder) error {
	switch v := o.GetVersion(); {
	case o.GetRolloutId() == "" || len(o.GetRolloutId()) > 128:
		return badAnswer("update order without a rollout ID or with one of %d bytes", len(o.GetRolloutId()))
	case o.GetAction() != ActionInstall && o.GetAction() != ActionRollback:
		return badAnswer("update order with action %q, want install or rollback", clip(o.GetAction(), 32))
	case v == "" || len(v) > 128 || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return badAnswer("update order for version %q", clip(v, 128))
	}
	return nil
}

// pickArtifact returns the build for goos/goarch, checked.
func pickArtifact(arts []*licmeshv1.UpdateArtifact, goos, goarch string) (*licmeshv1.UpdateArtifact, error) {
	for _, x := range arts {
		if x.GetOs() != goos || x.GetArch() != goarch {
			continue
		}
		if !sha256Hex.MatchString(strings.ToLower(x.GetSha256())) {
			return nil, badAnswer("the %s/%s build has sha256 %q", goos, goarch, clip(x.GetSha256(), 80))
		}
		if x.GetSize() <= 0 || x.GetSize() > maxArtifactBytes {
			return nil, badAnswer("the %s/%s build has size %d, want 1 to %d bytes", goos, goarch, x.GetSize(), maxArtifactBytes)
		}
		return x, nil
	}
	return nil, fmt.Errorf("no build for %s/%s", goos, goarch)
}

// fetchAndStage downloads the build from the master last heard from, then
// the others, straight into selfupdate.Stage, which checks size, hash and
// version as it goes. A master without it (404), or with a bad copy, sends
// the agent to the next; a build that fails its version check fails
// everywhere.
func (a *Agent) fetchAndStage(ctx context.Context, exe string, art *licmeshv1.UpdateArtifact, version string) error {
	tr := a.transport()
	if tr == nil {
		return ErrNotReady
	}
	a.mu.Lock()
	last := a.st.lastMaster
	a.mu.Unlock()
	order := a.masters.Snapshot()
	if last != "" {
		order = append([]string{last}, order...)
	}
	seen := map[string]bool{}
	var errs []error
	for _, addr := range order {
		if seen[addr] {
			continue
		}
		seen[addr] = true
		err := a.fetchFrom(ctx, tr.HTTPClient(), addr, exe, art, version)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, selfupdate.ErrVersion) {
			return err
		}
		a.log.Info("collectord: update: this master could not give the build", "master", addr, "error", err)
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return fmt.Errorf("no master gave the build %s: %w", art.GetSha256(), errors.Join(errs...))
}

// artifactPath is where a master serves the build with a given SHA-256.
func artifactPath(sha256hex string) string { return "/v1/artifacts/" + sha256hex }

func (a *Agent) fetchFrom(ctx context.Context, client *http.Client, addr, exe string, art *licmeshv1.UpdateArtifact, version string) error {
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	sha := strings.ToLower(art.GetSha256())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+artifactPath(sha), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", artifactPath(sha), resp.Status)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != art.GetSize() {
		return fmt.Errorf("%w: the master sends %d bytes, the order says %d", selfupdate.ErrSize, resp.ContentLength, art.GetSize())
	}
	return selfupdate.Stage(ctx, exe, resp.Body, art.GetSize(), sha, version)
}

// finishUpdate reports the outcome of an order and records it.
func (a *Agent) finishUpdate(ctx context.Context, key orderKey, ok bool, detail string) {
	a.setUpdate(key, UpdateReporting, detail)
	if !a.reportUpdate(ctx, key, ok, detail) {
		return
	}
	state := UpdateFailed
	if ok {
		state = UpdateDone
	}
	a.setUpdate(key, state, detail)
}

// reportUpdate tells a master how an order went, retrying with backoff until
// one takes it or ctx ends; it reports whether one did. A refusal is final.
func (a *Agent) reportUpdate(ctx context.Context, key orderKey, ok bool, detail string) bool {
	req := &licmeshv1.ReportUpdateRequest{RolloutId: key.rollout, Action: key.action, Version: a.opts.Version, Ok: ok, Detail: clip(detail, 1000)}
	bo := a.newBackoff()
	for {
		err := ErrNotReady
		if tr := a.transport(); tr != nil {
			err = a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, _ string) error {
				_, err := c.ReportUpdate(ctx, connect.NewRequest(req))
				return err
			})
		}
		var rej *RejectedError
		switch {
		case err == nil:
			a.log.Info("collectord: update reported", "rollout_id", clip(key.rollout, 128), "action", clip(key.action, 32),
				"version", a.opts.Version, "ok", ok, "detail", req.Detail)
			return true
		case errors.As(err, &rej):
			a.log.Warn("collectord: a master refused the update report", "rollout_id", clip(key.rollout, 128), "error", err)
			return true
		}
		wait := bo.Next()
		a.log.Info("collectord: update report not delivered; retrying", "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-a.clock.After(wait):
		}
	}
}

// setUpdate records the state of the update at hand.
func (a *Agent) setUpdate(key orderKey, state, detail string) {
	a.upd.mu.Lock()
	defer a.upd.mu.Unlock()
	a.upd.status = &UpdateStatus{RolloutID: key.rollout, Action: key.action, Target: key.version,
		State: state, Detail: clip(detail, 1000), Since: a.clock.Now().Round(0)}
}

// updateStatus returns a copy of the update status, nil when there is none.
func (a *Agent) updateStatus() *UpdateStatus {
	a.upd.mu.Lock()
	defer a.upd.mu.Unlock()
	if a.upd.status == nil {
		return nil
	}
	s := *a.upd.status
	return &s
}
