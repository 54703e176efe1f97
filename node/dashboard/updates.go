package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// The Updates page (seed 001, in-app update): every master's and
// collector's version, the releases the site knows with their notes and
// state, the auto-update settings, the buttons that check, download,
// install and roll back, the rollout under way, and the offline bundle
// upload. Its status refreshes itself, every 2 s while a rollout runs; the
// settings and upload forms sit outside it, so polling never wipes them.

// PermUpdates is the permission the Updates page's buttons and forms need.
const PermUpdates = "updates"

const (
	updatesTitle = "Updates"
	// checkTimeout bounds asking the hub for its release metadata;
	// longTimeout a download, an install that downloads first, or a
	// bundle's verification.
	checkTimeout = 2 * time.Minute
	longTimeout  = 30 * time.Minute
	// maxBundleUploadBytes bounds a posted bundle: the master takes at most
	// 2 GiB of it, plus the form's own parts.
	maxBundleUploadBytes = 2<<30 + 1<<20
	// maxUnitsShown bounds the collectors listed on the page; the counts
	// cover them all.
	maxUnitsShown = 200
	// The status refreshes this often while a rollout runs, and otherwise.
	pollActive = "2s"
	pollIdle   = "10s"
)

// UpdateFuncs link the Updates page to the site's coordinated updates. A
// nil Status leaves the page and its nav link out; a nil action hides its
// button or form and refuses its POST. The actions are shown only to a
// principal with PermUpdates. An error's text is shown to the operator
// verbatim, so it must name the problem and must not carry a secret.
type UpdateFuncs struct {
	// Status says where updates stand. It is called per request (every 2 s
	// while a rollout runs), so it should answer from memory.
	Status func(ctx context.Context) (*licmeshv1.UpdateStatusResponse, error)
	// Check asks the hub for its release metadata at once.
	Check func(ctx context.Context) error
	// Download fetches a release's artifacts onto the masters.
	Download func(ctx context.Context, version string) error
	// Install starts a rollout of a release.
	Install func(ctx context.Context, version string) error
	// Rollback stops the rollout under way and sends its wave back, or,
	// with none under way, rolls the site back to the release the last
	// one started from.
	Rollback func(ctx context.Context) error
	// SetSettings saves the auto-update settings.
	SetSettings func(ctx context.Context, s *licmeshv1.UpdateSettings) error
	// UploadBundle verifies and imports an offline bundle, read from r,
	// and says what it brought.
	UploadBundle func(ctx context.Context, r io.Reader) (string, error)
}

// updatesView is the Updates page.
type updatesView struct {
	// Status is nil when UpdateFuncs.Status failed.
	Status *updatesStatus
	// Poll is how often the status refreshes itself.
	Poll string
	// The buttons and forms shown.
	CanCheck, CanDownload, CanInstall, CanRollback, CanSettings, CanUpload bool
	Settings                                                               settingsForm
	Notice                                                                 string // the outcome of the last action
	Problem                                                                string // its refusal, verbatim
}

// updatesStatus is UpdateStatusResponse in plain words.
type updatesStatus struct {
	Running, Latest string
	Trusted         bool
	Checked         timeView
	CheckError      string
	Source          string
	Masters         []nodeVersion
	Collectors      []nodeVersion
	// CollectorVersions counts the collectors on each version.
	CollectorVersions string
	MoreCollectors    int
	Releases          []releaseRow
	Rollout           *rolloutView
	// Active says the rollout is under way.
	Active bool
	Past   []rolloutView
	// RollbackTo is the release a Roll back after the last finished
	// rollout goes back to; empty when there is none.
	RollbackTo string
}

type nodeVersion struct {
	ID, Version, Hostname, State string
	Leader                       bool
}

type releaseRow struct {
	Version, Channel                   string
	Released                           timeView
	Notes, Changelog, DocURL, VideoURL string
	Artifacts                          string
	Latest                             bool
	State, Class                       string
	Download, Install                  bool
}

// Release states on the page.
const (
	relAvailable  = "available"
	relDownloaded = "downloaded"
	relWithdrawn  = "withdrawn"
	relUncovered  = "not covered by the licenses"
	relRunning    = "running"
	relInstalling = "installing"
)

type rolloutView struct {
	ID, Version, Phase, StartedBy, HaltReason string
	Wave                                      int32
	Active, Downgrade                         bool
	Started, Ended                            timeView
	Collectors, Masters                       unitsView
}

type unitsView struct {
	Title  string // "Masters", "Collectors"
	ID     string // the table's element ID
	Total  int
	Counts string // "2 updated, 1 ordered"
	Rows   []unitRow
	More   int
}

type unitRow struct {
	ID, From, State, Detail string
	Wave                    int32
	At                      timeView
}

// settingsForm is the auto-update settings' form.
type settingsForm struct {
	AutoDownload, AutoInstall bool
	Channel, Every            string
	Channels                  []string
}

func loadUpdates(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	f := h.cfg.Updates
	may := can(ctx, PermUpdates)
	v := updatesView{
		Poll:        pollIdle,
		CanCheck:    may && f.Check != nil,
		CanDownload: may && f.Download != nil,
		CanInstall:  may && f.Install != nil,
		CanRollback: may && f.Rollback != nil,
		CanSettings: may && f.SetSettings != nil,
		CanUpload:   may && f.UploadBundle != nil,
	}
	st, err := f.Status(ctx)
	if err != nil {
		return updatesTitle, v, http.StatusServiceUnavailable, fmt.Errorf("could not load where updates stand: %w", err)
	}
	v.Status = h.updatesStatus(st, v)
	if v.Status.Rollout != nil && v.Status.Rollout.Active {
		v.Poll = pollActive
	}
	v.Settings = settingsOf(st.GetSettings())
	return updatesTitle, v, http.StatusOK, nil
}

func (h *Handler) updatesStatus(st *licmeshv1.UpdateStatusResponse, v updatesView) *updatesStatus {
	out := &updatesStatus{Running: st.GetRunning(), Latest: st.GetLatest(), Trusted: st.GetTrusted(),
		Checked: h.timeOr(st.GetCheckedAtMs(), "not yet"), CheckError: st.GetCheckError(), Source: st.GetSource()}
	for _, m := range st.GetMasters() {
		out.Masters = append(out.Masters, nodeVersion{ID: m.GetId(), Version: m.GetVersion(), State: m.GetState(), Leader: m.GetLeader()})
	}
	versions := map[string]int{}
	for i, c := range st.GetCollectors() {
		versions[cmp.Or(c.GetVersion(), "unknown")]++
		if i >= maxUnitsShown {
			out.MoreCollectors++
			continue
		}
		out.Collectors = append(out.Collectors, nodeVersion{ID: c.GetId(), Version: c.GetVersion(), Hostname: c.GetHostname()})
	}
	out.CollectorVersions = countsText(versions, "%[2]s (%[1]d)")
	ro := st.GetRollout()
	active := ro != nil && (ro.GetPhase() == "collectors" || ro.GetPhase() == "masters")
	out.Active = active
	if ro != nil {
		rv := h.rollout(ro)
		out.Rollout = &rv
	}
	for _, p := range st.GetPast() {
		out.Past = append(out.Past, h.rollout(p))
	}
	if !active {
		out.RollbackTo = rollbackTarget(append([]*licmeshv1.Rollout{ro}, st.GetPast()...))
	}
	rels := slices.Clone(st.GetReleases())
	slices.SortStableFunc(rels, func(a, b *licmeshv1.SiteRelease) int {
		return cmp.Or(cmp.Compare(b.GetReleasedMs(), a.GetReleasedMs()), strings.Compare(b.GetVersion(), a.GetVersion()))
	})
	for _, r := range rels {
		row := releaseRow{Version: r.GetVersion(), Channel: r.GetChannel(), Released: h.timeAt(r.GetReleasedMs()),
			Notes: r.GetNotes(), Changelog: r.GetChangelog(), DocURL: r.GetDocUrl(), VideoURL: r.GetVideoUrl(),
			Artifacts: strings.Join(r.GetArtifacts(), ", "), Latest: r.GetVersion() == st.GetLatest()}
		switch {
		case r.GetWithdrawn():
			row.State, row.Class = relWithdrawn, "expired"
		case !r.GetCovered():
			row.State, row.Class = relUncovered, "soon"
		case active && ro.GetVersion() == r.GetVersion():
			row.State = relInstalling
		case r.GetVersion() == st.GetRunning():
			row.State = relRunning
		case r.GetDownloaded():
			row.State, row.Install = relDownloaded, v.CanInstall && !active
		default:
			row.State, row.Download = relAvailable, v.CanDownload
		}
		out.Releases = append(out.Releases, row)
	}
	return out
}

func (h *Handler) rollout(r *licmeshv1.Rollout) rolloutView {
	v := rolloutView{ID: r.GetId(), Version: r.GetVersion(), Phase: r.GetPhase(), StartedBy: r.GetStartedBy(),
		HaltReason: r.GetHaltReason(), Wave: r.GetWave(), Downgrade: r.GetDowngrade(),
		Active:  r.GetPhase() == "collectors" || r.GetPhase() == "masters",
		Started: h.timeAt(r.GetStartedAtMs()), Ended: h.timeOr(r.GetEndedAtMs(), "not yet"),
		Collectors: h.units(r.GetCollectors()), Masters: h.units(r.GetMasters())}
	v.Collectors.Title, v.Collectors.ID = "Collectors", "rollout-collectors"
	v.Masters.Title, v.Masters.ID = "Masters", "rollout-masters"
	return v
}

// unitOrder puts the units that need a look first: failures, then those
// moving, then those waiting, then those done.
var unitOrder = map[string]int{"failed": 0, "rolling_back": 1, "ordered": 2, "pending": 3, "excluded": 4, "rolled_back": 5, "updated": 6, "skipped": 7}

func (h *Handler) units(us []*licmeshv1.RolloutUnit) unitsView {
	v := unitsView{Total: len(us)}
	states := map[string]int{}
	for _, u := range us {
		states[u.GetState()]++
	}
	v.Counts = countsText(states, "%d %s")
	sorted := slices.Clone(us)
	slices.SortStableFunc(sorted, func(a, b *licmeshv1.RolloutUnit) int {
		oa, ok := unitOrder[a.GetState()]
		if !ok {
			oa = len(unitOrder)
		}
		ob, ok := unitOrder[b.GetState()]
		if !ok {
			ob = len(unitOrder)
		}
		return cmp.Compare(oa, ob)
	})
	for i, u := range sorted {
		if i >= maxUnitsShown {
			v.More = len(sorted) - i
			break
		}
		v.Rows = append(v.Rows, unitRow{ID: u.GetId(), From: u.GetFrom(), State: u.GetState(), Detail: u.GetDetail(),
			Wave: u.GetWave(), At: h.timeOr(u.GetAtMs(), "not yet")})
	}
	return v
}

// countsText lists counts, the most first, then by name, each written
// by format from its count and name: "2 updated, 1 ordered".
func countsText(m map[string]int, format string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf(format, m[k], strings.ReplaceAll(k, "_", " "))
	}
	return strings.Join(parts, ", ")
}

// rollbackTarget is the release the last finished rollout started from,
// as the master's RollbackUpdate finds it: nothing to roll back to
// hides the button.
func rollbackTarget(rs []*licmeshv1.Rollout) string {
	for _, r := range rs {
		if r.GetPhase() != "done" {
			continue
		}
		for _, m := range r.GetMasters() {
			if m.GetFrom() != "" && m.GetFrom() != r.GetVersion() {
				return m.GetFrom()
			}
		}
	}
	return ""
}

func settingsOf(s *licmeshv1.UpdateSettings) settingsForm {
	f := settingsForm{AutoDownload: s.GetAutoDownload(), AutoInstall: s.GetAutoInstall(),
		Channel: cmp.Or(s.GetChannel(), "stable"), Every: formatEvery(s.GetCheckEveryMs()), Channels: []string{"stable", "beta"}}
	if !slices.Contains(f.Channels, f.Channel) {
		f.Channels = append(f.Channels, f.Channel)
	}
	return f
}

// formatEvery writes an interval as people type it: "6h", "1h30m", "45m".
func formatEvery(ms int64) string {
	if ms <= 0 {
		return ""
	}
	s := (time.Duration(ms) * time.Millisecond).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseEvery reads an interval typed as "6h", "90m" or "2d".
func parseEvery(s string) (time.Duration, error) {
	s = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days > 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("check interval %q: write it like 6h, 30m or 1d", s)
	}
	return d, nil
}
