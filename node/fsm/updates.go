package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Coordinated updates (issue 15, promise P5). The FSM records; the leader
// decides. What is recorded: the site's update settings, the release
// metadata it verified last (its TUF trust, so that every master judges
// the next metadata against the same versions: no rollback after a
// leader change), the releases that metadata lists, which master holds
// which artifact, and the rollout: its plan, its waves and each
// collector's and master's state in it. The leader's rollout engine moves
// it forward one recorded step at a time, so a new leader picks it up
// where the old one left it.

const (
	maxTrustBytes     = 4 << 20
	maxReleases       = 200
	maxRolloutUnits   = 100_000
	maxPastRollouts   = 20
	maxReleaseText    = 256 << 10
	maxStoredPerNode  = 64
	defaultCheckEvery = 6 * 3600_000
)

// Unit states in a rollout.
const (
	UnitPending    = "pending"      // not ordered yet
	UnitOrdered    = "ordered"      // told to install the target
	UnitUpdated    = "updated"      // runs the target and is healthy
	UnitFailed     = "failed"       // could not install, or unhealthy after
	UnitRollback   = "rolling_back" // told to go back to From
	UnitRolledBack = "rolled_back"  // back on From
	UnitExcluded   = "excluded"     // offline past the plan's patience
	UnitSkipped    = "skipped"      // ran the target already
)

// Rollout phases.
const (
	PhaseCollectors = "collectors"
	PhaseMasters    = "masters"
	PhaseDone       = "done"
	PhaseHalted     = "halted"
)

// ErrRolloutState means a rollout command does not fit: a rollout started
// while another runs, a step for a unit the rollout does not have.
var ErrRolloutState = errors.New("fsm: the rollout is not in a state for that")

// UpdateSettings are the site's choices (seed 001, in-app update). Zero
// values are the defaults: download and install on their own, check every
// 6 hours, the stable channel.
type UpdateSettings struct {
	ManualDownload bool   `json:",omitempty"`
	ManualInstall  bool   `json:",omitempty"`
	CheckEveryMs   int64  `json:",omitempty"`
	Channel        string `json:",omitempty"`
	// Plan is the default plan of a rollout.
	Plan RolloutPlan
}

// CheckEvery returns the check interval in ms.
func (s UpdateSettings) CheckEvery() int64 {
	if s.CheckEveryMs <= 0 {
		return defaultCheckEvery
	}
	return s.CheckEveryMs
}

// ChannelOrDefault returns the channel followed.
func (s UpdateSettings) ChannelOrDefault() string {
	if s.Channel == "" {
		return "stable"
	}
	return s.Channel
}

// RolloutPlan shapes a rollout: the canary wave's size, then waves of
// BatchSize collectors; MaxFailures failed units in a wave halt it;
// a wave not done in WaveTimeoutMs fails its stragglers. A collector
// offline for OfflineAfterMs is waited for or excluded, as OfflinePolicy
// says.
type RolloutPlan struct {
	Canary         int    `json:",omitempty"`
	BatchSize      int    `json:",omitempty"`
	MaxFailures    int    `json:",omitempty"`
	WaveTimeoutMs  int64  `json:",omitempty"`
	OfflineAfterMs int64  `json:",omitempty"`
	OfflinePolicy  string `json:",omitempty"` // exclude (default) or wait
	// MasterTimeoutMs bounds how long one master may take to come back.
	MasterTimeoutMs int64 `json:",omitempty"`
}

// WithDefaults fills the zero fields.
func (p RolloutPlan) WithDefaults() RolloutPlan {
	if p.Canary <= 0 {
		p.Canary = 1
	}
	if p.BatchSize <= 0 {
		p.BatchSize = 10
	}
	if p.WaveTimeoutMs <= 0 {
		p.WaveTimeoutMs = 10 * 60_000
	}
	if p.OfflineAfterMs <= 0 {
		p.OfflineAfterMs = 30 * 60_000
	}
	if p.OfflinePolicy == "" {
		p.OfflinePolicy = "exclude"
	}
	if p.MasterTimeoutMs <= 0 {
		p.MasterTimeoutMs = 5 * 60_000
	}
	return p
}

func (p RolloutPlan) validate() error {
	switch {
	case p.Canary < 0 || p.Canary > 1000, p.BatchSize < 0 || p.BatchSize > 10_000, p.MaxFailures < 0 || p.MaxFailures > 10_000:
		return fmt.Errorf("%w: rollout plan: canary %d, batch %d, failures %d out of range", ErrMalformed, p.Canary, p.BatchSize, p.MaxFailures)
	case p.WaveTimeoutMs < 0, p.OfflineAfterMs < 0, p.MasterTimeoutMs < 0:
		return fmt.Errorf("%w: rollout plan: negative timeout", ErrMalformed)
	case p.OfflinePolicy != "" && p.OfflinePolicy != "exclude" && p.OfflinePolicy != "wait":
		return fmt.Errorf("%w: rollout plan: offline policy %q, want exclude or wait", ErrMalformed, clip(p.OfflinePolicy))
	}
	return nil
}

// ReleaseTrust is the TUF metadata the site verified last.
type ReleaseTrust struct {
	Root, Timestamp, Snapshot, Targets []byte `json:",omitempty"`
}

// ReleaseArtifact is one verified file of a release.
type ReleaseArtifact struct {
	Name, Component, OS, Arch, SHA256 string
	Size                              int64
}

// KnownRelease is a release the verified metadata lists, with its notes.
type KnownRelease struct {
	Version   string
	Channel   string
	Released  int64
	Withdrawn bool   `json:",omitempty"`
	Notes     string `json:",omitempty"`
	Changelog string `json:",omitempty"`
	DocURL    string `json:",omitempty"`
	VideoURL  string `json:",omitempty"`
	Artifacts []ReleaseArtifact
}

// RolloutUnit is one collector's or master's place in a rollout.
type RolloutUnit struct {
	ID     string
	Wave   int    `json:",omitempty"`
	From   string `json:",omitempty"`
	State  string
	At     int64  `json:",omitempty"`
	Detail string `json:",omitempty"`
	// OrderedAt is when the unit was told to install (the rollout's
	// evidence of its order: no master before every collector).
	OrderedAt int64 `json:",omitempty"`
}

// Rollout is one coordinated update of the site to Version.
type Rollout struct {
	ID        string
	Version   string
	StartedAt int64
	StartedBy string
	Plan      RolloutPlan
	Phase     string
	// Wave is the collector wave under way; WaveStartedAt when it began.
	Wave          int
	WaveStartedAt int64
	Collectors    []RolloutUnit
	Masters       []RolloutUnit
	HaltReason    string `json:",omitempty"`
	EndedAt       int64  `json:",omitempty"`
	// PhaseAt is when the current phase began.
	PhaseAt int64 `json:",omitempty"`
	// Downgrade goes back to an older release: the masters go first, then
	// the collectors, so that no master runs a release newer than a
	// collector it manages.
	Downgrade bool `json:",omitempty"`
}

// Active reports whether the rollout is still moving.
func (r *Rollout) Active() bool {
	return r != nil && (r.Phase == PhaseCollectors || r.Phase == PhaseMasters)
}

// Collector returns a collector's unit.
func (r *Rollout) Collector(id string) (RolloutUnit, bool) {
	i, ok := slices.BinarySearchFunc(r.Collectors, id, func(u RolloutUnit, id string) int { return strings.Compare(u.ID, id) })
	if !ok {
		return RolloutUnit{}, false
	}
	return r.Collectors[i], true
}

// UpdateState is everything the site records of updates.
type UpdateState struct {
	Settings UpdateSettings
	Trust    ReleaseTrust
	// CheckedAt is the last check's time, CheckError its failure (empty
	// when it worked), Source "hub" or "bundle".
	CheckedAt  int64  `json:",omitempty"`
	CheckError string `json:",omitempty"`
	Source     string `json:",omitempty"`
	VerifiedAt int64  `json:",omitempty"`
	Releases   []KnownRelease
	// Stored says which artifacts (by SHA-256) each master holds.
	Stored  map[string][]string
	Rollout *Rollout `json:",omitempty"`
	Past    []Rollout
}

// Release returns a known release.
func (u *UpdateState) Release(version string) (KnownRelease, bool) {
	for _, r := range u.Releases {
		if r.Version == version {
			return r, true
		}
	}
	return KnownRelease{}, false
}

func (u *UpdateState) clone() UpdateState {
	b, _ := json.Marshal(u)
	var out UpdateState
	_ = json.Unmarshal(b, &out)
	return out
}

// SetUpdateSettings changes the site's update settings.
type SetUpdateSettings struct {
	Settings UpdateSettings
	Now      int64
}

// UpdateChecked records a check: the new trust and releases when it
// verified, or only its error.
type UpdateChecked struct {
	Error    string `json:",omitempty"`
	Source   string
	Trust    *ReleaseTrust  `json:",omitempty"`
	Releases []KnownRelease `json:",omitempty"`
	Now      int64
}

// ArtifactStored records that a master holds (or dropped) artifacts.
type ArtifactStored struct {
	Node    string
	SHA256  []string
	Dropped bool `json:",omitempty"`
	Now     int64
}

// RolloutChange moves a rollout: Start begins one; Units change units'
// states (collectors and masters by ID); Wave, Phase, Halt, Masters change
// the rollout itself. One command is one step, applied whole or not.
type RolloutChange struct {
	RolloutID string
	Start     *Rollout     `json:",omitempty"`
	Units     []UnitChange `json:",omitempty"`
	Wave      int          `json:",omitempty"`
	NextWave  bool         `json:",omitempty"`
	Phase     string       `json:",omitempty"`
	Halt      string       `json:",omitempty"`
	// Masters sets the masters' order when the masters phase begins.
	Masters []RolloutUnit `json:",omitempty"`
	Now     int64
}

// UnitChange is one unit's new state.
type UnitChange struct {
	Master bool `json:",omitempty"`
	ID     string
	State  string
	From   string `json:",omitempty"`
	Detail string `json:",omitempty"`
	// Version is what a collector reported it runs now: recorded at once,
	// not at the next presence flush, so that a rollout started right
	// after sees it.
	Version string `json:",omitempty"`
}

func (SetUpdateSettings) msgType() MsgType { return SetUpdateSettingsType }
func (UpdateChecked) msgType() MsgType     { return UpdateCheckedType }
func (ArtifactStored) msgType() MsgType    { return ArtifactStoredType }
func (RolloutChange) msgType() MsgType     { return RolloutChangeType }

func (c SetUpdateSettings) now() int64 { return c.Now }
func (c UpdateChecked) now() int64     { return c.Now }
func (c ArtifactStored) now() int64    { return c.Now }
func (c RolloutChange) now() int64     { return c.Now }

func (c SetUpdateSettings) validate() error {
	s := c.Settings
	switch {
	case s.CheckEveryMs != 0 && (s.CheckEveryMs < 60_000 || s.CheckEveryMs > 30*24*3600_000):
		return fmt.Errorf("%w: update check interval %d ms: between 1 minute and 30 days", ErrMalformed, s.CheckEveryMs)
	case s.Channel != "" && s.Channel != "stable" && s.Channel != "beta":
		return fmt.Errorf("%w: update channel %q: stable or beta", ErrMalformed, clip(s.Channel))
	}
	return firstErr(s.Plan.validate(), checkNow(c.Now))
}

func validVersion(v string) error {
	if err := checkText("version", v, 64); err != nil {
		return err
	}
	if strings.ContainsAny(v, "/\\ ") {
		return fmt.Errorf("%w: version %q", ErrMalformed, clip(v))
	}
	return nil
}

func validSHA(s string) error {
	if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return fmt.Errorf("%w: %q is not a SHA-256 in hex", ErrMalformed, clip(s))
	}
	return nil
}

func (c UpdateChecked) validate() error {
	if c.Source != "hub" && c.Source != "bundle" {
		return fmt.Errorf("%w: update check source %q: hub or bundle", ErrMalformed, clip(c.Source))
	}
	if c.Error != "" {
		if c.Trust != nil || len(c.Releases) > 0 {
			return fmt.Errorf("%w: a failed check carries no trust", ErrMalformed)
		}
		return firstErr(checkText("error", c.Error, 2000), checkNow(c.Now))
	}
	if c.Trust == nil || len(c.Trust.Root) == 0 {
		return fmt.Errorf("%w: a verified check carries its trust", ErrMalformed)
	}
	t := c.Trust
	if len(t.Root)+len(t.Timestamp)+len(t.Snapshot)+len(t.Targets) > maxTrustBytes {
		return fmt.Errorf("%w: release trust larger than %d bytes", ErrMalformed, maxTrustBytes)
	}
	if len(c.Releases) > maxReleases {
		return fmt.Errorf("%w: %d releases, at most %d", ErrMalformed, len(c.Releases), maxReleases)
	}
	for _, r := range c.Releases {
		if err := validVersion(r.Version); err != nil {
			return err
		}
		if len(r.Notes)+len(r.Changelog) > maxReleaseText || len(r.DocURL)+len(r.VideoURL) > 4096 {
			return fmt.Errorf("%w: release %s: notes too long", ErrMalformed, r.Version)
		}
		for _, a := range r.Artifacts {
			if err := firstErr(checkText("artifact", a.Name, 256), validSHA(a.SHA256)); err != nil {
				return err
			}
		}
	}
	return checkNow(c.Now)
}

func (c ArtifactStored) validate() error {
	if len(c.SHA256) == 0 || len(c.SHA256) > maxStoredPerNode {
		return fmt.Errorf("%w: artifact record with %d hashes", ErrMalformed, len(c.SHA256))
	}
	for _, s := range c.SHA256 {
		if err := validSHA(s); err != nil {
			return err
		}
	}
	return firstErr(checkID("node", c.Node), checkNow(c.Now))
}

func validUnitState(s string) bool {
	switch s {
	case UnitPending, UnitOrdered, UnitUpdated, UnitFailed, UnitRollback, UnitRolledBack, UnitExcluded, UnitSkipped:
		return true
	}
	return false
}

func validUnits(us []RolloutUnit, what string) error {
	if len(us) > maxRolloutUnits {
		return fmt.Errorf("%w: %d %s in a rollout, at most %d", ErrMalformed, len(us), what, maxRolloutUnits)
	}
	for i, u := range us {
		if err := checkID(what, u.ID); err != nil {
			return err
		}
		if i > 0 && what == "collector" && us[i-1].ID >= u.ID {
			return fmt.Errorf("%w: rollout %s not sorted or repeated at %s", ErrMalformed, what, u.ID)
		}
		if !validUnitState(u.State) || u.Wave < 0 {
			return fmt.Errorf("%w: rollout %s %s: state %q, wave %d", ErrMalformed, what, u.ID, clip(u.State), u.Wave)
		}
	}
	return nil
}

func (c RolloutChange) validate() error {
	if err := firstErr(checkID("rollout", c.RolloutID), checkNow(c.Now), checkOptText("halt reason", c.Halt, 2000)); err != nil {
		return err
	}
	if r := c.Start; r != nil {
		first := PhaseCollectors
		if r.Downgrade {
			first = PhaseMasters
		}
		if r.ID != c.RolloutID || r.Phase != first {
			return fmt.Errorf("%w: a rollout starts with its ID, in the %s phase", ErrMalformed, first)
		}
		if err := firstErr(validVersion(r.Version), checkText("started by", r.StartedBy, 128), r.Plan.validate(),
			validUnits(r.Collectors, "collector"), validUnits(r.Masters, "master")); err != nil {
			return err
		}
	}
	for _, u := range c.Units {
		if err := checkID("unit", u.ID); err != nil {
			return err
		}
		if !validUnitState(u.State) {
			return fmt.Errorf("%w: unit %s: state %q", ErrMalformed, u.ID, clip(u.State))
		}
		if err := checkOptText("detail", u.Detail, 2000); err != nil {
			return err
		}
		if u.Version != "" {
			if err := validVersion(u.Version); err != nil {
				return err
			}
		}
	}
	switch c.Phase {
	case "", PhaseCollectors, PhaseMasters, PhaseDone, PhaseHalted:
	default:
		return fmt.Errorf("%w: rollout phase %q", ErrMalformed, clip(c.Phase))
	}
	return validUnits(c.Masters, "master")
}

func applySetUpdateSettings(s *state, ac *applyCtx, c *SetUpdateSettings) Response {
	s.updates.Settings = c.Settings
	return Response{}
}

func applyUpdateChecked(s *state, ac *applyCtx, c *UpdateChecked) Response {
	u := &s.updates
	u.CheckedAt, u.Source = ac.at, c.Source
	if c.Error != "" {
		u.CheckError = c.Error
		return Response{}
	}
	u.CheckError, u.VerifiedAt, u.Trust, u.Releases = "", ac.at, *c.Trust, c.Releases
	s.entChanged = s.index // collectors' orders may name a release's artifacts
	return Response{}
}

func applyArtifactStored(s *state, ac *applyCtx, c *ArtifactStored) Response {
	u := &s.updates
	if u.Stored == nil {
		u.Stored = map[string][]string{}
	}
	have := u.Stored[c.Node]
	for _, h := range c.SHA256 {
		i, found := slices.BinarySearch(have, h)
		switch {
		case c.Dropped && found:
			have = slices.Delete(have, i, i+1)
		case !c.Dropped && !found:
			if len(have) >= maxStoredPerNode {
				return Response{Err: fmt.Errorf("%w: master %s holds %d artifacts already", ErrMalformed, c.Node, len(have))}
			}
			have = slices.Insert(have, i, h)
		}
	}
	if len(have) == 0 {
		delete(u.Stored, c.Node)
	} else {
		u.Stored[c.Node] = have
	}
	return Response{}
}

func applyRolloutChange(s *state, ac *applyCtx, c *RolloutChange) Response {
	u := &s.updates
	if c.Start != nil {
		if u.Rollout.Active() {
			return Response{Err: fmt.Errorf("%w: rollout %s to %s is under way", ErrRolloutState, u.Rollout.ID, u.Rollout.Version)}
		}
		if u.Rollout != nil {
			u.Past = append([]Rollout{*u.Rollout}, u.Past...)
			if len(u.Past) > maxPastRollouts {
				u.Past = u.Past[:maxPastRollouts]
			}
		}
		r := *c.Start
		r.StartedAt, r.WaveStartedAt, r.PhaseAt = ac.at, ac.at, ac.at
		r.Collectors, r.Masters = slices.Clone(r.Collectors), slices.Clone(r.Masters)
		u.Rollout = &r
		s.entChanged = s.index
		return Response{}
	}
	r := u.Rollout
	if r == nil || r.ID != c.RolloutID {
		return Response{Err: fmt.Errorf("%w: no rollout %s", ErrRolloutState, c.RolloutID)}
	}
	// A halted rollout still hears from the units it sent back.
	if !r.Active() && (r.Phase != PhaseHalted || c.Phase != "" || c.NextWave || len(c.Masters) > 0 || c.Halt != "") {
		return Response{Err: fmt.Errorf("%w: rollout %s is %s", ErrRolloutState, r.ID, r.Phase)}
	}
	// Check everything before changing anything: a refused step leaves
	// the rollout as it was.
	masters := r.Masters
	if len(c.Masters) > 0 {
		masters = c.Masters
	}
	idx := make([]int, len(c.Units))
	for i, uc := range c.Units {
		list := r.Collectors
		if uc.Master {
			list = masters
		}
		j := slices.IndexFunc(list, func(x RolloutUnit) bool { return x.ID == uc.ID })
		if j < 0 {
			return Response{Err: fmt.Errorf("%w: rollout %s has no unit %s", ErrRolloutState, r.ID, uc.ID)}
		}
		idx[i] = j
	}
	nr := *r
	nr.Collectors = slices.Clone(r.Collectors)
	nr.Masters = slices.Clone(masters)
	for i, uc := range c.Units {
		list := nr.Collectors
		if uc.Master {
			list = nr.Masters
		}
		x := &list[idx[i]]
		x.State, x.At, x.Detail = uc.State, ac.at, uc.Detail
		if uc.State == UnitOrdered {
			x.OrderedAt = ac.at
		}
		if uc.From != "" {
			x.From = uc.From
		}
	}
	for _, uc := range c.Units {
		if col, ok := s.collectors.m[uc.ID]; ok && !uc.Master && uc.Version != "" && col.Version != uc.Version {
			col.Version = uc.Version
			s.collectors = s.collectors.mutable()
			s.collectors.m[uc.ID] = col
		}
	}
	if c.NextWave {
		nr.Wave, nr.WaveStartedAt = nr.Wave+1, ac.at
	}
	if c.Phase != "" && c.Phase != nr.Phase {
		// A downgrade reaches its collectors after its masters: their
		// first wave's clock starts then.
		nr.Phase, nr.PhaseAt, nr.WaveStartedAt = c.Phase, ac.at, ac.at
		if c.Phase == PhaseDone || c.Phase == PhaseHalted {
			nr.EndedAt = ac.at
		}
	}
	if c.Halt != "" {
		nr.HaltReason = c.Halt
	}
	u.Rollout = &nr
	s.entChanged = s.index // collectors learn their orders on their streams
	return Response{}
}

// Updates returns a copy of the update state.
func (f *FSM) Updates() UpdateState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.updates.clone()
}

// CollectorOrder is what a collector is told to do now: Action "install"
// or "rollback" of Version, with the collectord artifacts of Version;
// empty Action for nothing.
type CollectorOrder struct {
	RolloutID string
	Action    string
	Version   string
	Artifacts []ReleaseArtifact
}

// CollectorOrder returns the collector's order in the rollout under way.
func (f *FSM) CollectorOrder(id string) CollectorOrder {
	f.mu.RLock()
	defer f.mu.RUnlock()
	u := &f.st.updates
	r := u.Rollout
	if r == nil {
		return CollectorOrder{}
	}
	x, ok := r.Collector(id)
	if !ok {
		return CollectorOrder{}
	}
	o := CollectorOrder{RolloutID: r.ID}
	switch {
	case x.State == UnitOrdered && r.Active():
		o.Action, o.Version = "install", r.Version
	case x.State == UnitRollback && x.From != "":
		o.Action, o.Version = "rollback", x.From
	default:
		return CollectorOrder{}
	}
	if rel, ok := u.Release(o.Version); ok {
		for _, a := range rel.Artifacts {
			if a.Component == "collectord" {
				o.Artifacts = append(o.Artifacts, a)
			}
		}
	}
	return o
}

// Snapshot record kind 35: the update state, one record.
const recUpdates byte = 35

func snapshotUpdates(u *UpdateState) ([]snapRecord, error) {
	if u.Rollout == nil && len(u.Releases) == 0 && len(u.Trust.Root) == 0 && u.Settings == (UpdateSettings{}) && len(u.Past) == 0 && len(u.Stored) == 0 && u.CheckedAt == 0 {
		return nil, nil
	}
	b, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("fsm: snapshot: updates: %w", err)
	}
	return []snapRecord{{recUpdates, b}}, nil
}

func (rs *restorer) updatesRecord(body []byte) error {
	var u UpdateState
	if err := strictJSON(body, &u); err != nil {
		return badSnap("updates: %v", err)
	}
	if err := (SetUpdateSettings{Settings: u.Settings, Now: 1}).validate(); err != nil {
		return badSnap("updates: %v", err)
	}
	if r := u.Rollout; r != nil {
		if err := firstErr(validUnits(r.Collectors, "collector"), validUnits(r.Masters, "master")); err != nil {
			return badSnap("updates: %v", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(u.Stored)) {
		if err := (ArtifactStored{Node: k, SHA256: u.Stored[k], Now: 1}).validate(); err != nil {
			return badSnap("updates: %v", err)
		}
	}
	rs.st.updates = u
	rs.counts[7]++
	return nil
}
