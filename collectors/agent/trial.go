package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/selfupdate"
)

// healthCommandTimeout bounds update_health_command.
const healthCommandTimeout = 60 * time.Second

// resumeUpdate finishes what the marker left by the previous run says: on
// the version it swapped in, a trial; on another (the swap was reverted, or
// never took), the report of the failure. A damaged marker is removed.
func (a *Agent) resumeUpdate(ctx context.Context) {
	path := a.pendingPath()
	p, ok, err := selfupdate.ReadPending(path)
	if err != nil {
		a.log.Error("collectord: removing a damaged update marker", "error", err)
		_ = selfupdate.ClearPending(path)
		return
	}
	if !ok {
		return
	}
	key := orderKey{p.RolloutID, p.Action, p.To}
	a.upd.claim(key) // the stream repeats the order; this run answers it here
	log := a.log.With("rollout_id", clip(key.rollout, 128), "action", clip(key.action, 32), "version", clip(key.version, 128))
	if p.To != a.opts.Version {
		detail := "reverted: " + cmp.Or(p.Detail, fmt.Sprintf("version %s did not start, or the swap did not take", p.To))
		log.Warn("collectord: update failed: back on the previous version", "running", a.opts.Version, "detail", detail)
		a.setUpdate(key, UpdateReporting, detail)
		if !a.reportUpdate(ctx, key, false, detail) {
			return // stopping: the next start reports it
		}
		a.clearPending(log)
		a.setUpdate(key, UpdateFailed, detail)
		return
	}
	a.trial(ctx, p, key, log)
}

// trial waits for the freshly updated collector to be healthy by the
// marker's deadline, then reports success; if it is not, it puts the
// previous build back and restarts into it.
func (a *Agent) trial(ctx context.Context, p selfupdate.Pending, key orderKey, log *slog.Logger) {
	log.Info("collectord: update: on trial", "from", p.From, "deadline", p.Deadline.Format(time.RFC3339))
	a.setUpdate(key, UpdateTrial, "waiting for an entitlement document from a master")
	err := a.awaitHealthy(ctx, p.Deadline)
	if ctx.Err() != nil {
		return // stopping: the next start resumes the trial
	}
	if err != nil {
		a.revertTrial(ctx, p, key, err.Error(), log)
		return
	}
	log.Info("collectord: update: healthy on the new version")
	a.setUpdate(key, UpdateReporting, "")
	if !a.reportUpdate(ctx, key, true, "") {
		return
	}
	a.clearPending(log)
	a.setUpdate(key, UpdateDone, "")
}

// awaitHealthy returns nil once the collector has an entitlement document
// from a master in this run, passes Options.Healthy (the local API) and
// update_health_command; or why it is not healthy by deadline.
func (a *Agent) awaitHealthy(ctx context.Context, deadline time.Time) error {
	late := a.clock.After(deadline.Sub(a.clock.Now()))
	notBy := func(why string) error {
		return fmt.Errorf("not healthy by the trial's deadline %s: %s", deadline.Format(time.RFC3339), why)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-late:
		return notBy("no entitlement document from a master")
	case <-a.upd.gotDoc:
	}
	if a.opts.Healthy != nil {
		a.setUpdateDetail("waiting for the local API")
		for {
			hctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
			err := a.opts.Healthy(hctx)
			cancel()
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-late:
				return notBy("the local API: " + err.Error())
			case <-a.clock.After(time.Second):
			}
		}
	}
	if len(a.cfg.UpdateHealthCommand) > 0 {
		a.setUpdateDetail("running update_health_command")
		if err := a.runHealthCommand(ctx); err != nil {
			return fmt.Errorf("update_health_command failed: %w", err)
		}
	}
	return nil
}

// runHealthCommand runs update_health_command with LICMESH_VERSION set,
// bounded by healthCommandTimeout; exit status 0 is healthy.
func (a *Agent) runHealthCommand(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthCommandTimeout)
	defer cancel()
	argv := a.cfg.UpdateHealthCommand
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LICMESH_VERSION="+a.opts.Version)
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer in %s: %w", healthCommandTimeout, err)
	}
	if msg := strings.TrimSpace(out.String()); msg != "" {
		err = fmt.Errorf("%w: %s", err, clip(msg, 300))
	}
	return err
}

// revertTrial puts the previous build back after a failed trial, with the
// reason in the marker for it to report, and restarts into it. If it cannot,
// the failure is reported from here.
func (a *Agent) revertTrial(ctx context.Context, p selfupdate.Pending, key orderKey, why string, log *slog.Logger) {
	log.Warn("collectord: update: the new version is not healthy; putting the previous one back", "reason", why)
	a.setUpdate(key, UpdateReverting, why)
	p.Detail = why
	if err := selfupdate.WritePending(a.pendingPath(), p); err != nil {
		log.Warn("collectord: update: cannot note the reason in the marker", "error", err)
	}
	err := a.upd.exeErr
	if err == nil {
		err = selfupdate.Revert(a.upd.exe)
	}
	if err != nil {
		detail := why + "; the previous version could not be put back: " + err.Error()
		log.Error("collectord: update: staying on the unhealthy version", "error", err)
		if a.reportUpdate(ctx, key, false, detail) {
			a.clearPending(log)
			a.setUpdate(key, UpdateFailed, detail)
		}
		return
	}
	a.restartInto(key, log)
}

func (a *Agent) clearPending(log *slog.Logger) {
	if err := selfupdate.ClearPending(a.pendingPath()); err != nil {
		log.Warn("collectord: update: cannot remove the marker", "error", err)
	}
}

// setUpdateDetail changes what the update at hand waits for.
func (a *Agent) setUpdateDetail(detail string) {
	a.upd.mu.Lock()
	defer a.upd.mu.Unlock()
	if a.upd.status != nil {
		a.upd.status.Detail = detail
	}
}

// capped keeps the first 2 KiB written to it.
type capped struct{ b []byte }

func (c *capped) Write(p []byte) (int, error) {
	if room := 2048 - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *capped) String() string { return string(c.b) }
