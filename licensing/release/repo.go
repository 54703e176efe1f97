package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Expiries are how long each role's metadata stays valid after it is
// signed. A zero field takes its default.
type Expiries struct{ Root, Targets, Snapshot, Timestamp time.Duration }

// DefaultExpiries are root 365 days, targets 90 days, snapshot 7 days and
// timestamp 1 day: the longer a role's key can stay offline, the longer its
// metadata lives, and the timestamp's short life bounds how long a freeze
// can go unnoticed.
func DefaultExpiries() Expiries {
	const day = 24 * time.Hour
	return Expiries{Root: 365 * day, Targets: 90 * day, Snapshot: 7 * day, Timestamp: day}
}

func (e Expiries) withDefaults() (Expiries, error) {
	def := DefaultExpiries()
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"root", &e.Root, def.Root}, {"targets", &e.Targets, def.Targets}, {"snapshot", &e.Snapshot, def.Snapshot}, {"timestamp", &e.Timestamp, def.Timestamp}} {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < time.Minute:
			return e, fail(ErrBadRelease, nil, "%s expiry %s is under a minute", f.name, *f.v)
		}
	}
	return e, nil
}

// RepoState is the repository's signed metadata, enough to serve it to
// sites and to reload the repository with LoadRepo.
type RepoState struct {
	// Roots are every root version in order: Roots[i] is version i+1.
	Roots [][]byte
	// Targets, Snapshot and Timestamp are the current targets.json,
	// snapshot.json and timestamp.json.
	Targets, Snapshot, Timestamp []byte
}

// Repo is the vendor side: it holds the metadata and signs new versions of
// it. It is not safe for concurrent use; the hub serialises calls. A method
// that fails leaves the repository as it was.
type Repo struct {
	keys Keys
	exp  Expiries
	st   repoMeta
}

// repoMeta is one consistent set of signed metadata, parsed and raw. A
// change builds a new repoMeta and swaps it in only once all of it is
// signed, which is what makes failures leave the repository unchanged.
type repoMeta struct {
	roots        [][]byte
	root         *metadata.Metadata[metadata.RootType]
	targets      *metadata.Metadata[metadata.TargetsType]
	targetsRaw   []byte
	snapshot     *metadata.Metadata[metadata.SnapshotType]
	snapshotRaw  []byte
	timestamp    *metadata.Metadata[metadata.TimestampType]
	timestampRaw []byte
}

// ArtifactInput is one file to publish: which component and platform it
// is, and its bytes.
type ArtifactInput struct {
	Component, OS, Arch string
	Data                io.Reader
}

// maxArtifactSize bounds a published file to what a bundle may carry.
const maxArtifactSize = 1 << 30

// NewRepo starts a repository: root version 1 with keys, and empty
// targets, snapshot and timestamp version 1, all valid from now.
func NewRepo(keys Keys, exp Expiries, now time.Time) (*Repo, error) {
	if err := keys.validate(); err != nil {
		return nil, err
	}
	exp, err := exp.withDefaults()
	if err != nil {
		return nil, err
	}
	root, raw, err := signRoot(1, expiry(now, exp.Root), keys, keys.Root)
	if err != nil {
		return nil, err
	}
	next := repoMeta{roots: [][]byte{raw}, root: root}
	if err := next.signAll(now, exp, keys, metadata.Targets(expiry(now, exp.Targets))); err != nil {
		return nil, err
	}
	return &Repo{keys: keys, exp: exp, st: next}, nil
}

// LoadRepo reloads a repository from its state. It checks the state as a
// site would (root chain, signatures, snapshot and targets matching the
// timestamp and snapshot) but not expiry, which Refresh repairs, and that
// keys are exactly the keys and thresholds the current root names.
func LoadRepo(keys Keys, exp Expiries, st RepoState) (*Repo, error) {
	if err := keys.validate(); err != nil {
		return nil, err
	}
	exp, err := exp.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(st.Roots) == 0 {
		return nil, fail(ErrMalformed, nil, "repository state has no root")
	}
	tm, err := trustedmetadata.New(st.Roots[0])
	if err != nil {
		return nil, fail(tufKind(err), err, "1.root.json %s", phrase(tufKind(err)))
	}
	if v := tm.Root.Signed.Version; v != 1 {
		return nil, fail(ErrMismatch, nil, "1.root.json has version %d", v)
	}
	// The zero reference time is before every expiry: the vendor side
	// must load expired metadata in order to renew it.
	tm.RefTime = time.Time{}
	for i, raw := range st.Roots[1:] {
		if _, err := tm.UpdateRoot(raw); err != nil {
			return nil, fail(tufKind(err), err, "%d.root.json %s", i+2, phrase(tufKind(err)))
		}
	}
	if _, err := tm.UpdateTimestamp(st.Timestamp); err != nil {
		return nil, fail(tufKind(err), err, "timestamp.json %s", phrase(tufKind(err)))
	}
	if _, err := tm.UpdateSnapshot(st.Snapshot, false); err != nil {
		return nil, fail(tufKind(err), err, "snapshot.json %s", phrase(tufKind(err)))
	}
	if _, err := tm.UpdateTargets(st.Targets); err != nil {
		return nil, fail(tufKind(err), err, "targets.json %s", phrase(tufKind(err)))
	}
	if err := keysMatchRoot(keys, tm.Root); err != nil {
		return nil, err
	}
	targets := tm.Targets[metadata.TARGETS]
	if _, err := parseReleases(&targets.Signed); err != nil {
		return nil, err
	}
	roots := make([][]byte, len(st.Roots))
	for i, r := range st.Roots {
		roots[i] = bytes.Clone(r)
	}
	return &Repo{keys: keys, exp: exp, st: repoMeta{
		roots: roots, root: tm.Root,
		targets: targets, targetsRaw: bytes.Clone(st.Targets),
		snapshot: tm.Snapshot, snapshotRaw: bytes.Clone(st.Snapshot),
		timestamp: tm.Timestamp, timestampRaw: bytes.Clone(st.Timestamp),
	}}, nil
}

// keysMatchRoot refuses keys that are not exactly the root's: signing with
// them would produce metadata no site accepts, or, worse, keys the vendor
// believed retired would still be in use.
func keysMatchRoot(keys Keys, root *metadata.Metadata[metadata.RootType]) error {
	for _, rk := range keys.roleKeys() {
		var ids []string
		for _, p := range rk.keys {
			_, id, err := tufKey(p)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		role := root.Signed.Roles[rk.role]
		if role == nil {
			return fail(ErrMalformed, nil, "root v%d has no %s role", root.Signed.Version, rk.role)
		}
		want := slices.Sorted(slices.Values(role.KeyIDs))
		slices.Sort(ids)
		if !slices.Equal(ids, want) || role.Threshold != rk.threshold {
			return fail(ErrSignature, nil, "keys do not match root v%d: its %s role has keys %s with threshold %d, the keys given are %s with threshold %d",
				root.Signed.Version, rk.role, shortIDs(want), role.Threshold, shortIDs(ids), rk.threshold)
		}
	}
	return nil
}

func shortIDs(ids []string) string {
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:min(len(id), 12)]
	}
	return "[" + strings.Join(short, " ") + "]"
}

// State returns the current signed metadata. The slices are copies.
func (r *Repo) State() RepoState {
	roots := make([][]byte, len(r.st.roots))
	for i, raw := range r.st.roots {
		roots[i] = bytes.Clone(raw)
	}
	return RepoState{
		Roots:     roots,
		Targets:   bytes.Clone(r.st.targetsRaw),
		Snapshot:  bytes.Clone(r.st.snapshotRaw),
		Timestamp: bytes.Clone(r.st.timestampRaw),
	}
}

// Releases are the releases in the current targets, newest version first.
func (r *Repo) Releases() []Release {
	// The targets were parsed when signed or loaded, so this cannot fail.
	rs, _ := parseReleases(&r.st.targets.Signed)
	return rs
}

// Publish adds one release of version on channel, made of artifacts whose
// bytes it reads and hashes. It refuses a bad version (SemVer without "v"
// or build metadata), a version already published, an unknown channel or
// component, an empty artifact list and two artifacts for one component and
// platform. It signs new targets, snapshot and timestamp versions and
// returns the artifacts as sites will see them.
func (r *Repo) Publish(now time.Time, version, channel string, artifacts []ArtifactInput) ([]Artifact, error) {
	if _, ok := parseSemver(version); !ok {
		return nil, fail(ErrBadRelease, nil, "version %q is not a semantic version like 1.4.0", version)
	}
	if !knownChannel(channel) {
		return nil, fail(ErrBadRelease, nil, "unknown channel %q", channel)
	}
	if len(artifacts) == 0 {
		return nil, fail(ErrBadRelease, nil, "release %s has no artifacts", version)
	}
	if r.hasVersion(version) {
		return nil, fail(ErrBadRelease, nil, "version %s is already published", version)
	}
	t, err := r.cloneTargets()
	if err != nil {
		return nil, err
	}
	released := now.UTC().Truncate(time.Second)
	out := make([]Artifact, 0, len(artifacts))
	for _, in := range artifacts {
		if !knownComponent(in.Component) {
			return nil, fail(ErrBadRelease, nil, "unknown component %q", in.Component)
		}
		if !isWord(in.OS) || !isWord(in.Arch) {
			return nil, fail(ErrBadRelease, nil, "bad platform %q/%q: GOOS and GOARCH are lower-case letters and digits", in.OS, in.Arch)
		}
		name := TargetName(version, in.Component, in.OS, in.Arch)
		if _, dup := t.Signed.Targets[name]; dup {
			return nil, fail(ErrBadRelease, nil, "two artifacts for %s", name)
		}
		if in.Data == nil {
			return nil, fail(ErrBadRelease, nil, "artifact %s has no data", name)
		}
		h := sha256.New()
		n, err := io.CopyN(h, in.Data, maxArtifactSize+1)
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("release: reading artifact %s: %w", name, err)
		}
		if n > maxArtifactSize {
			return nil, fail(ErrBadRelease, nil, "artifact %s is over %d bytes", name, maxArtifactSize)
		}
		custom, err := encodeCustom(targetCustom{
			Version: version, Component: in.Component, OS: in.OS, Arch: in.Arch,
			Channel: channel, Released: released,
		})
		if err != nil {
			return nil, err
		}
		sum := h.Sum(nil)
		t.Signed.Targets[name] = &metadata.TargetFiles{
			Length: n, Hashes: metadata.Hashes{"sha256": sum}, Custom: custom, Path: name,
		}
		out = append(out, Artifact{
			Name: name, Version: version, Component: in.Component, OS: in.OS, Arch: in.Arch,
			Length: n, SHA256: hex.EncodeToString(sum),
		})
	}
	if err := r.commitTargets(now, t); err != nil {
		return nil, err
	}
	return out, nil
}

// Withdraw marks version withdrawn in the signed targets: sites running it
// go back to the newest release that is not. Withdrawing twice is a no-op.
func (r *Repo) Withdraw(now time.Time, version string) error {
	return r.editRelease(now, version, func(c *targetCustom) { c.Withdrawn = true })
}

// SetChannel moves version to channel. Setting the channel it is on is a
// no-op.
func (r *Repo) SetChannel(now time.Time, version, channel string) error {
	if !knownChannel(channel) {
		return fail(ErrBadRelease, nil, "unknown channel %q", channel)
	}
	return r.editRelease(now, version, func(c *targetCustom) { c.Channel = channel })
}

// editRelease applies edit to the custom fields of every artifact of
// version and signs new metadata if anything changed.
func (r *Repo) editRelease(now time.Time, version string, edit func(*targetCustom)) error {
	if !r.hasVersion(version) {
		return fail(ErrBadRelease, nil, "version %q is not published", version)
	}
	t, err := r.cloneTargets()
	if err != nil {
		return err
	}
	changed := false
	for _, tf := range t.Signed.Targets {
		c, err := decodeCustom(tf)
		if err != nil {
			return err
		}
		if c.Version != version {
			continue
		}
		before := c
		edit(&c)
		if c == before {
			continue
		}
		if tf.Custom, err = encodeCustom(c); err != nil {
			return err
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return r.commitTargets(now, t)
}

// Remove drops versions from the targets, so sites no longer see them; the
// hub calls it to retire old versions. Every version must be published;
// nothing is removed otherwise.
func (r *Repo) Remove(now time.Time, versions ...string) error {
	if len(versions) == 0 {
		return nil
	}
	drop := map[string]bool{}
	for _, v := range versions {
		if !r.hasVersion(v) {
			return fail(ErrBadRelease, nil, "version %q is not published", v)
		}
		drop[v] = true
	}
	t, err := r.cloneTargets()
	if err != nil {
		return err
	}
	for name, tf := range t.Signed.Targets {
		c, err := decodeCustom(tf)
		if err != nil {
			return err
		}
		if drop[c.Version] {
			delete(t.Signed.Targets, name)
		}
	}
	return r.commitTargets(now, t)
}

// Refresh re-signs what is due so that sites never see expired metadata
// while the hub runs: the timestamp once half its period has passed, the
// snapshot and the targets likewise (and then the roles below them), and
// the root, by a new root version with the same keys, likewise. It reports
// whether anything changed. The hub calls it every few minutes.
func (r *Repo) Refresh(now time.Time) (bool, error) {
	if due(now, r.st.root.Signed.Expires, r.exp.Root) {
		// A new root version re-signs everything below it too.
		return true, r.RotateRoot(now, r.keys)
	}
	targets := due(now, r.st.targets.Signed.Expires, r.exp.Targets)
	snapshot := targets || due(now, r.st.snapshot.Signed.Expires, r.exp.Snapshot)
	timestamp := snapshot || due(now, r.st.timestamp.Signed.Expires, r.exp.Timestamp)
	next := r.st
	switch {
	case targets:
		t, err := r.cloneTargets()
		if err != nil {
			return false, err
		}
		if err := next.signAll(now, r.exp, r.keys, t); err != nil {
			return false, err
		}
	case snapshot:
		if err := next.signSnapshot(now, r.exp, r.keys); err != nil {
			return false, err
		}
		if err := next.signTimestamp(now, r.exp, r.keys); err != nil {
			return false, err
		}
	case timestamp:
		if err := next.signTimestamp(now, r.exp, r.keys); err != nil {
			return false, err
		}
	default:
		return false, nil
	}
	r.st = next
	return true, nil
}

// due reports whether metadata expiring at expires, signed for period, is
// in the second half of its life at now.
func due(now, expires time.Time, period time.Duration) bool {
	return !now.Before(expires.Add(-period / 2))
}

// RotateRoot makes root version n+1 naming newKeys, signed by the current
// root keys and by the new ones (each over its threshold, as sites
// require), then re-signs targets, snapshot and timestamp with the new
// keys. Rotating to the same keys renews the root's expiry.
func (r *Repo) RotateRoot(now time.Time, newKeys Keys) error {
	if err := newKeys.validate(); err != nil {
		return err
	}
	version := r.st.root.Signed.Version + 1
	root, raw, err := signRoot(version, expiry(now, r.exp.Root), newKeys, slices.Concat(r.keys.Root, newKeys.Root))
	if err != nil {
		return err
	}
	// A rotation sites refuse strands them on the old root for good, so
	// check it the way they will before publishing it.
	tm, err := trustedmetadata.New(r.st.roots[len(r.st.roots)-1])
	if err == nil {
		_, err = tm.UpdateRoot(raw)
	}
	if err != nil {
		return fmt.Errorf("release: root v%d would not verify: %w", version, err)
	}
	next := r.st
	next.roots = append(slices.Clip(r.st.roots), raw)
	next.root = root
	t, err := r.cloneTargets()
	if err != nil {
		return err
	}
	if err := next.signAll(now, r.exp, newKeys, t); err != nil {
		return err
	}
	r.st = next
	r.keys = newKeys
	return nil
}

func (r *Repo) hasVersion(version string) bool {
	for _, rel := range r.Releases() {
		if rel.Version == version {
			return true
		}
	}
	return false
}

// cloneTargets is a deep copy of the current targets to edit: the current
// one must stay intact in case signing fails.
func (r *Repo) cloneTargets() (*metadata.Metadata[metadata.TargetsType], error) {
	t, err := metadata.Targets().FromBytes(r.st.targetsRaw)
	if err != nil {
		return nil, fmt.Errorf("release: reloading targets.json: %w", err)
	}
	if t.Signed.Targets == nil {
		t.Signed.Targets = map[string]*metadata.TargetFiles{}
	}
	return t, nil
}

// commitTargets signs t as the next targets version, then snapshot and
// timestamp, and makes them current.
func (r *Repo) commitTargets(now time.Time, t *metadata.Metadata[metadata.TargetsType]) error {
	if _, err := parseReleases(&t.Signed); err != nil {
		return err
	}
	next := r.st
	if err := next.signAll(now, r.exp, r.keys, t); err != nil {
		return err
	}
	r.st = next
	return nil
}

// signAll signs t as the next targets version, then the next snapshot and
// timestamp over it.
func (m *repoMeta) signAll(now time.Time, exp Expiries, keys Keys, t *metadata.Metadata[metadata.TargetsType]) error {
	if err := m.signTargets(now, exp, keys, t); err != nil {
		return err
	}
	if err := m.signSnapshot(now, exp, keys); err != nil {
		return err
	}
	return m.signTimestamp(now, exp, keys)
}

func (m *repoMeta) signTargets(now time.Time, exp Expiries, keys Keys, t *metadata.Metadata[metadata.TargetsType]) error {
	t.Signed.Version = 1
	if m.targets != nil {
		t.Signed.Version = m.targets.Signed.Version + 1
	}
	t.Signed.Expires = expiry(now, exp.Targets)
	raw, err := sign(t, keys.Targets)
	if err != nil {
		return err
	}
	m.targets, m.targetsRaw = t, raw
	return nil
}

// signSnapshot and signTimestamp record the length and hash of the file
// below them, not only its version: that is what lets a site reject a
// snapshot or targets file from another repository version even if its
// version number were forged to match.
func (m *repoMeta) signSnapshot(now time.Time, exp Expiries, keys Keys) error {
	s := metadata.Snapshot(expiry(now, exp.Snapshot))
	if m.snapshot != nil {
		s.Signed.Version = m.snapshot.Signed.Version + 1
	}
	s.Signed.Meta = map[string]*metadata.MetaFiles{
		metadata.TARGETS + ".json": metaFile(m.targets.Signed.Version, m.targetsRaw),
	}
	raw, err := sign(s, []ed25519.PrivateKey{keys.Snapshot})
	if err != nil {
		return err
	}
	m.snapshot, m.snapshotRaw = s, raw
	return nil
}

func (m *repoMeta) signTimestamp(now time.Time, exp Expiries, keys Keys) error {
	ts := metadata.Timestamp(expiry(now, exp.Timestamp))
	if m.timestamp != nil {
		ts.Signed.Version = m.timestamp.Signed.Version + 1
	}
	ts.Signed.Meta = map[string]*metadata.MetaFiles{
		metadata.SNAPSHOT + ".json": metaFile(m.snapshot.Signed.Version, m.snapshotRaw),
	}
	raw, err := sign(ts, []ed25519.PrivateKey{keys.Timestamp})
	if err != nil {
		return err
	}
	m.timestamp, m.timestampRaw = ts, raw
	return nil
}

func metaFile(version int64, raw []byte) *metadata.MetaFiles {
	mf := metadata.MetaFile(version)
	sum := sha256.Sum256(raw)
	mf.Length = int64(len(raw))
	mf.Hashes = metadata.Hashes{"sha256": sum[:]}
	return mf
}

// signRoot builds root version naming keys for every role and signs it
// with signers.
func signRoot(version int64, expires time.Time, keys Keys, signers []ed25519.PrivateKey) (*metadata.Metadata[metadata.RootType], []byte, error) {
	root := metadata.Root(expires)
	root.Signed.Version = version
	// Sites get metadata from the hub or a bundle as whole sets, never by
	// versioned file name, and RepoState keeps only the current targets and
	// snapshot: claiming consistent snapshots would be false.
	root.Signed.ConsistentSnapshot = false
	for _, rk := range keys.roleKeys() {
		for _, p := range rk.keys {
			key, _, err := tufKey(p)
			if err != nil {
				return nil, nil, err
			}
			if err := root.Signed.AddKey(key, rk.role); err != nil {
				return nil, nil, fmt.Errorf("release: adding a %s key to root: %w", rk.role, err)
			}
		}
		root.Signed.Roles[rk.role].Threshold = rk.threshold
	}
	raw, err := sign(root, signers)
	if err != nil {
		return nil, nil, err
	}
	return root, raw, nil
}

// sign replaces m's signatures by one per distinct key (a key in both the
// old and new root signs once: go-tuf refuses two signatures by one key ID)
// and serialises it.
func sign[T metadata.Roles](m *metadata.Metadata[T], keys []ed25519.PrivateKey) ([]byte, error) {
	m.Signatures = []metadata.Signature{}
	seen := map[string]bool{}
	for _, p := range keys {
		pub := string(p.Public().(ed25519.PublicKey))
		if seen[pub] {
			continue
		}
		seen[pub] = true
		s, err := signer(p)
		if err != nil {
			return nil, err
		}
		if _, err := m.Sign(s); err != nil {
			return nil, fmt.Errorf("release: signing: %w", err)
		}
	}
	raw, err := m.ToBytes(false)
	if err != nil {
		return nil, fmt.Errorf("release: serialising metadata: %w", err)
	}
	return raw, nil
}

// expiry is now+d in UTC whole seconds, the form TUF metadata dates take.
func expiry(now time.Time, d time.Duration) time.Time {
	return now.UTC().Add(d).Truncate(time.Second)
}
