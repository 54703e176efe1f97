package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func (a *app) updateCommand() *cobra.Command {
	g := group("update", "Updates of this site: status, check, download, install (a rollout), upload a bundle, roll back",
		a.updateStatusCommand(), a.updateCheckCommand(), a.updateDownloadCommand(), a.updateInstallCommand(),
		a.updateUploadCommand(), a.updateRollbackCommand(), a.updateSettingsCommand())
	g.Long = `Releases come signed by the vendor (TUF metadata): the leader checks the hub on
a schedule, or an operator uploads an offline bundle. Installing one is a
rollout recorded in Raft: every collector first, in waves with health checks,
then the masters one at a time, the leader last. A failed wave stops the
rollout and puts that wave's collectors back on their previous release.`
	return g
}

// printUpdateStatus shows where updates stand, for people or as JSON.
func printUpdateStatus(w io.Writer, out format, st *v1.UpdateStatusResponse) error {
	if out == formatJSON {
		return writeJSON(w, st)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	s := st.GetSettings()
	fmt.Fprintf(tw, "Running:\t%s\n", st.GetRunning())
	fmt.Fprintf(tw, "Latest:\t%s\n", cmpOrDash(st.GetLatest()))
	fmt.Fprintf(tw, "Checked:\t%s (%s)\n", msTime(st.GetCheckedAtMs()), cmpOrDash(st.GetSource()))
	if st.GetCheckError() != "" {
		fmt.Fprintf(tw, "Check error:\t%s\n", st.GetCheckError())
	}
	fmt.Fprintf(tw, "Settings:\tchannel %s, auto-download %v, auto-install %v, check every %s\n", s.GetChannel(), s.GetAutoDownload(), s.GetAutoInstall(),
		time.Duration(s.GetCheckEveryMs())*time.Millisecond)
	tw.Flush()
	if len(st.GetReleases()) > 0 {
		fmt.Fprintln(w, "\nRELEASES")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tCHANNEL\tRELEASED\tSTATE\tDOCS")
		for _, r := range st.GetReleases() {
			state := "available"
			switch {
			case r.GetWithdrawn():
				state = "withdrawn"
			case !r.GetCovered():
				state = "not covered by the licenses"
			case r.GetDownloaded():
				state = "downloaded"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.GetVersion(), r.GetChannel(), msTime(r.GetReleasedMs()), state, r.GetDocUrl())
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nNODES")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tVERSION\tSTATE")
	for _, m := range st.GetMasters() {
		state := m.GetState()
		if m.GetLeader() {
			state += ", leader"
		}
		fmt.Fprintf(tw, "master\t%s\t%s\t%s\n", m.GetId(), m.GetVersion(), state)
	}
	for _, c := range st.GetCollectors() {
		fmt.Fprintf(tw, "collector\t%s\t%s\t%s\n", c.GetId(), c.GetVersion(), c.GetHostname())
	}
	tw.Flush()
	if r := st.GetRollout(); r != nil {
		kind := "rollout"
		if r.GetDowngrade() {
			kind = "rollback"
		}
		fmt.Fprintf(w, "\nROLLOUT %s (%s to %s): %s", r.GetId(), kind, r.GetVersion(), r.GetPhase())
		if r.GetPhase() == "collectors" {
			fmt.Fprintf(w, ", wave %d", r.GetWave())
		}
		if r.GetHaltReason() != "" {
			fmt.Fprintf(w, ": %s", r.GetHaltReason())
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tID\tWAVE\tFROM\tSTATE\tDETAIL")
		for _, u := range r.GetCollectors() {
			fmt.Fprintf(tw, "collector\t%s\t%d\t%s\t%s\t%s\n", u.GetId(), u.GetWave(), u.GetFrom(), u.GetState(), u.GetDetail())
		}
		for _, u := range r.GetMasters() {
			fmt.Fprintf(tw, "master\t%s\t-\t%s\t%s\t%s\n", u.GetId(), u.GetFrom(), u.GetState(), u.GetDetail())
		}
		tw.Flush()
	}
	return nil
}

func cmpOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) updateStatusCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running versions, the releases known and the rollout",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.UpdateStatus, &v1.UpdateStatusRequest{})
			if err != nil {
				return err
			}
			return printUpdateStatus(a.stdout, out, res)
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) updateCheckCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Ask the hub for releases now and verify them",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.CheckUpdates, &v1.CheckUpdatesRequest{})
			if err != nil {
				return err
			}
			return printUpdateStatus(a.stdout, out, res.GetStatus())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) updateDownloadCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "download [VERSION]",
		Short: "Download a release's artifacts to the masters (default: the newest of the channel)",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			req := &v1.DownloadUpdateRequest{}
			if len(args) == 1 {
				req.Version = args[0]
			}
			res, err := call(ctx, a, admin.DownloadUpdate, req)
			if err != nil {
				return err
			}
			return printUpdateStatus(a.stdout, out, res.GetStatus())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) updateInstallCommand() *cobra.Command {
	var (
		out  format
		plan v1.RolloutPlan
		wave time.Duration
	)
	cmd := &cobra.Command{
		Use:   "install [VERSION] [--canary N] [--batch N] [--max-failures N] [--wave-timeout D] [--offline exclude|wait]",
		Short: "Start a rollout: collectors first in waves, then the masters one by one, the leader last",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			plan.WaveTimeoutMs = wave.Milliseconds()
			req := &v1.InstallUpdateRequest{Plan: &plan}
			if len(args) == 1 {
				req.Version = args[0]
			}
			res, err := call(ctx, a, admin.InstallUpdate, req)
			if err != nil {
				return err
			}
			return printUpdateStatus(a.stdout, out, res.GetStatus())
		}),
	}
	f := cmd.Flags()
	f.Int32Var(&plan.Canary, "canary", 0, "collectors in the first wave (default: the site's plan, 1)")
	f.Int32Var(&plan.BatchSize, "batch", 0, "collectors per later wave (default 10)")
	f.Int32Var(&plan.MaxFailures, "max-failures", 0, "failed collectors a wave may have and go on")
	f.DurationVar(&wave, "wave-timeout", 0, "how long a wave may take (default 10m)")
	f.StringVar(&plan.OfflinePolicy, "offline", "", "collectors offline: exclude them, or wait for them")
	addOutputFlag(f, &out)
	return cmd
}

func (a *app) updateRollbackCommand() *cobra.Command {
	var (
		out    format
		reason string
	)
	cmd := &cobra.Command{
		Use:   "rollback [--reason TEXT]",
		Short: "Stop the rollout under way and send its wave back; with none, go back to the release before",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.RollbackUpdate, &v1.RollbackUpdateRequest{Reason: reason})
			if err != nil {
				return err
			}
			return printUpdateStatus(a.stdout, out, res.GetStatus())
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) updateSettingsCommand() *cobra.Command {
	var (
		out                   format
		autoDownload, install string
		channel               string
		every, wave           time.Duration
		plan                  v1.RolloutPlan
		cmd                   *cobra.Command
	)
	cmd = &cobra.Command{
		Use:   "settings [--auto-download on|off] [--auto-install on|off] [--channel stable|beta] [--check-every D] [--canary N] [--batch N] [--max-failures N] [--wave-timeout D] [--offline exclude|wait]",
		Short: "Change how updates come: only what is given changes",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			cur, err := call(ctx, a, admin.UpdateStatus, &v1.UpdateStatusRequest{})
			if err != nil {
				return err
			}
			st := cur.GetSettings()
			onOff := func(flag, v string, into *bool) error {
				switch v {
				case "":
				case "on", "true", "yes":
					*into = true
				case "off", "false", "no":
					*into = false
				default:
					return usagef("--%s %q: on or off", flag, v)
				}
				return nil
			}
			if err := onOff("auto-download", autoDownload, &st.AutoDownload); err != nil {
				return err
			}
			if err := onOff("auto-install", install, &st.AutoInstall); err != nil {
				return err
			}
			if channel != "" {
				st.Channel = channel
			}
			if every != 0 {
				st.CheckEveryMs = every.Milliseconds()
			}
			// The plan auto-install and an install without flags use.
			if st.Plan == nil {
				st.Plan = &v1.RolloutPlan{}
			}
			f := cmd.Flags()
			if f.Changed("canary") {
				st.Plan.Canary = plan.Canary
			}
			if f.Changed("batch") {
				st.Plan.BatchSize = plan.BatchSize
			}
			if f.Changed("max-failures") {
				st.Plan.MaxFailures = plan.MaxFailures
			}
			if f.Changed("wave-timeout") {
				st.Plan.WaveTimeoutMs = wave.Milliseconds()
			}
			if f.Changed("offline") {
				st.Plan.OfflinePolicy = plan.OfflinePolicy
			}
			res, err := call(ctx, a, admin.SetUpdateSettings, &v1.SetUpdateSettingsRequest{Settings: st})
			if err != nil {
				return err
			}
			return printUpdateStatus(a.stdout, out, res.GetStatus())
		}),
	}
	f := cmd.Flags()
	f.Int32Var(&plan.Canary, "canary", 0, "the plan's collectors in the first wave")
	f.Int32Var(&plan.BatchSize, "batch", 0, "the plan's collectors per later wave")
	f.Int32Var(&plan.MaxFailures, "max-failures", 0, "the plan's failed collectors a wave may have and go on")
	f.DurationVar(&wave, "wave-timeout", 0, "the plan's time a collector has to report after its order")
	f.StringVar(&plan.OfflinePolicy, "offline", "", "the plan's collectors offline: exclude them, or wait for them")
	f.StringVar(&autoDownload, "auto-download", "", "download new releases on their own (on or off)")
	f.StringVar(&install, "auto-install", "", "install downloaded releases on their own (on or off)")
	f.StringVar(&channel, "channel", "", "stable or beta")
	f.DurationVar(&every, "check-every", 0, "how often the leader asks the hub")
	addOutputFlag(f, &out)
	return cmd
}

func (a *app) updateUploadCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "upload BUNDLE",
		Short: "Upload an offline bundle (metadata and artifacts) for a site with no internet",
		Long: `Upload a release bundle the vendor's portal gave you. The master verifies it
with the same rules as the hub's metadata (signatures, thresholds, versions,
expiry judged against the cluster's trusted time) and keeps its artifacts;
every master copies them. Then install as usual.`,
		Args: oneArg("bundle file"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return usagef("bundle: %v", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil || !st.Mode().IsRegular() {
				return usagef("bundle %s is not a regular file", args[0])
			}
			if _, err := a.client(); err != nil {
				return err
			}
			body, done := progress(a.stdout, f, st.Size(), "uploading")
			// The upload may outlast --timeout: it is bounded by its size.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.cfg.Addr, "/")+"/v1/updates/bundle", body)
			if err != nil {
				return err
			}
			req.ContentLength = st.Size()
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Authorization", "Bearer "+a.token)
			res, err := (&http.Client{Transport: a.transport}).Do(req)
			done()
			if err != nil {
				return fmt.Errorf("upload to %s: %w", a.cfg.Addr, err)
			}
			defer res.Body.Close()
			msg, _ := io.ReadAll(io.LimitReader(res.Body, 8<<10))
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("bundle refused: %s", strings.TrimSpace(string(msg)))
			}
			fmt.Fprint(a.stdout, string(msg))
			return nil
		}),
	}
}
