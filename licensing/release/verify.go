package release

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// Metadata is what a site receives from the hub or in a bundle.
type Metadata struct {
	// Roots are root versions newer than the site's trusted one, in order.
	// They may be every root: versions the site already trusts are skipped.
	Roots [][]byte
	// Timestamp, Snapshot and Targets are the repository's current
	// timestamp.json, snapshot.json and targets.json.
	Timestamp, Snapshot, Targets []byte
}

// Trust is what a site persists (replicated in Raft) between
// verifications: the metadata it last verified.
type Trust struct {
	// Root is mandatory; the rest are empty before the first verification.
	Root, Timestamp, Snapshot, Targets []byte
}

// Verified is what a successful Verify vouches for.
type Verified struct {
	// Releases are the releases in the verified targets, newest first.
	Releases []Release
	// Expires is the earliest expiry among the timestamp, snapshot and
	// targets: the verification says nothing after it.
	Expires time.Time
	// RootVersion and TargetsVersion are the versions verified.
	RootVersion, TargetsVersion int64
}

// TrustFromRoot is how a site starts: from the vendor's root.json, pinned at
// activation or configured. It checks root parses as a root signed by its
// own threshold of keys; it does not check expiry, as a root shipped with
// an install may be old and be rotated forward by Verify.
func TrustFromRoot(root []byte) (Trust, error) {
	if _, err := trustedmetadata.New(root); err != nil {
		kind := tufKind(err)
		return Trust{}, fail(kind, err, "root.json %s", phrase(kind))
	}
	return Trust{Root: bytes.Clone(root)}, nil
}

// Verify runs the TUF client workflow at time now against trust and md:
// the root rotation chain; then trust's timestamp, snapshot and targets
// (loaded even when expired, so that a rollback of the timestamp, snapshot
// or targets version is refused); then md's. It refuses metadata expired at
// now (freeze), a snapshot or targets that does not match the timestamp's
// or snapshot's record of it (mix-and-match), and signatures below a role's
// threshold. A timestamp of the version already trusted is accepted while
// it has not expired; trust's snapshot and targets are kept while they
// still match.
//
// On success it returns the Trust to persist in place of trust and the
// verified releases. On failure it returns trust unchanged, so persisting
// the result regardless is safe.
func Verify(trust Trust, md Metadata, now time.Time) (Trust, *Verified, error) {
	out, v, err := verify(trust, md, now)
	if err != nil {
		return trust, nil, err
	}
	return out, v, nil
}

func verify(trust Trust, md Metadata, now time.Time) (Trust, *Verified, error) {
	if len(trust.Root) == 0 {
		return Trust{}, nil, fail(ErrMalformed, nil, "trust has no root.json")
	}
	tm, err := trustedmetadata.New(trust.Root)
	if err != nil {
		kind := tufKind(err)
		return Trust{}, nil, fail(kind, err, "trusted root.json %s", phrase(kind))
	}
	// New sets the local clock; the site's trusted time replaces it before
	// anything is judged by time.
	tm.RefTime = now
	out := Trust{Root: trust.Root}

	for _, raw := range md.Roots {
		root, err := metadata.Root().FromBytes(raw)
		if err != nil {
			return Trust{}, nil, fail(ErrMalformed, err, "a root.json in the metadata is malformed")
		}
		v, cur := root.Signed.Version, tm.Root.Signed.Version
		if v <= cur {
			continue
		}
		if v != cur+1 {
			return Trust{}, nil, fail(ErrMismatch, nil, "root chain has a gap: %d.root.json follows trusted root v%d", v, cur)
		}
		if _, err := tm.UpdateRoot(raw); err != nil {
			kind := tufKind(err)
			return Trust{}, nil, fail(kind, err, "%d.root.json %s", v, phrase(kind))
		}
		out.Root = raw
	}

	if err := loadTrusted("timestamp.json", trust.Timestamp, func(b []byte) error {
		_, err := tm.UpdateTimestamp(b)
		return err
	}); err != nil {
		return Trust{}, nil, err
	}
	if len(md.Timestamp) == 0 {
		return Trust{}, nil, fail(ErrMalformed, nil, "metadata has no timestamp.json")
	}
	out.Timestamp = md.Timestamp
	if _, err := tm.UpdateTimestamp(md.Timestamp); err != nil {
		if !errors.Is(err, &metadata.ErrEqualVersionNumber{}) {
			return Trust{}, nil, refusal(tm, now, "timestamp.json", err, tufKind(err))
		}
		// The hub has not re-signed since the last verification; the
		// trusted timestamp stands, as long as it has not expired.
		out.Timestamp = trust.Timestamp
	}
	if ts := tm.Timestamp.Signed; ts.IsExpired(now) {
		return Trust{}, nil, expiredError("timestamp.json", now, ts.Expires, nil)
	}

	snapshotKept, err := keepTrusted("snapshot.json", trust.Snapshot, func(b []byte) error {
		_, err := tm.UpdateSnapshot(b, true)
		return err
	})
	if err != nil {
		return Trust{}, nil, err
	}
	if snapshotKept {
		out.Snapshot = trust.Snapshot
	} else {
		if len(md.Snapshot) == 0 {
			return Trust{}, nil, fail(ErrMalformed, nil, "metadata has no snapshot.json")
		}
		before := tm.Snapshot
		if _, err := tm.UpdateSnapshot(md.Snapshot, false); err != nil {
			kind := tufKind(err)
			// go-tuf loads the snapshot once it passed the rollback check
			// and only then compares its version with the timestamp's:
			// a version error after loading is mix-and-match.
			if kind == ErrRollback && tm.Snapshot != before {
				kind = ErrMismatch
			}
			return Trust{}, nil, refusal(tm, now, "snapshot.json", err, kind)
		}
		out.Snapshot = md.Snapshot
	}

	targetsKept, err := keepTrusted("targets.json", trust.Targets, func(b []byte) error {
		_, err := tm.UpdateTargets(b)
		return err
	})
	if err != nil {
		return Trust{}, nil, err
	}
	if targetsKept {
		out.Targets = trust.Targets
	} else {
		if len(md.Targets) == 0 {
			return Trust{}, nil, fail(ErrMalformed, nil, "metadata has no targets.json")
		}
		if _, err := tm.UpdateTargets(md.Targets); err != nil {
			kind := tufKind(err)
			// The targets' rollback is caught at the snapshot; a version
			// error here is a targets file the snapshot does not list.
			if kind == ErrRollback {
				kind = ErrMismatch
			}
			if kind == ErrExpired {
				if t, perr := metadata.Targets().FromBytes(md.Targets); perr == nil {
					return Trust{}, nil, expiredError("targets.json", now, t.Signed.Expires, err)
				}
			}
			return Trust{}, nil, refusal(tm, now, "targets.json", err, kind)
		}
		out.Targets = md.Targets
	}

	targets := tm.Targets[metadata.TARGETS]
	releases, err := parseReleases(&targets.Signed)
	if err != nil {
		return Trust{}, nil, err
	}
	v := &Verified{
		Releases:       releases,
		Expires:        minTime(tm.Timestamp.Signed.Expires, tm.Snapshot.Signed.Expires, targets.Signed.Expires).UTC(),
		RootVersion:    tm.Root.Signed.Version,
		TargetsVersion: targets.Signed.Version,
	}
	out = Trust{
		Root:      bytes.Clone(out.Root),
		Timestamp: bytes.Clone(out.Timestamp),
		Snapshot:  bytes.Clone(out.Snapshot),
		Targets:   bytes.Clone(out.Targets),
	}
	return out, v, nil
}

// loadTrusted loads a previously trusted file for the rollback protection
// it gives, even when it no longer qualifies as current (expired, or
// signed by keys a root rotation retired): go-tuf reports that as one of
// its repository errors, after loading it where that is still useful.
// Anything else means the persisted trust is corrupt.
func loadTrusted(file string, data []byte, load func([]byte) error) error {
	_, err := keepTrusted(file, data, load)
	return err
}

// keepTrusted is loadTrusted that also reports whether the trusted file
// loaded as current, so the new one is not needed.
func keepTrusted(file string, data []byte, load func([]byte) error) (bool, error) {
	if len(data) == 0 {
		return false, nil
	}
	err := load(data)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, &metadata.ErrRepository{}):
		return false, nil
	default:
		return false, fail(ErrMalformed, err, "trusted %s is malformed", file)
	}
}

// refusal words err, met while loading file, as kind; an expiry names the
// role that expired, which go-tuf's message does not always.
func refusal(tm *trustedmetadata.TrustedMetadata, now time.Time, file string, err error, kind error) error {
	if kind == ErrExpired {
		switch {
		case tm.Root.Signed.IsExpired(now):
			return expiredError(fmt.Sprintf("root.json (v%d)", tm.Root.Signed.Version), now, tm.Root.Signed.Expires, err)
		case tm.Timestamp != nil && tm.Timestamp.Signed.IsExpired(now):
			return expiredError("timestamp.json", now, tm.Timestamp.Signed.Expires, err)
		case tm.Snapshot != nil && tm.Snapshot.Signed.IsExpired(now):
			return expiredError("snapshot.json", now, tm.Snapshot.Signed.Expires, err)
		}
	}
	if above, ok := recordedIn[file]; ok && kind == ErrMismatch {
		return fail(kind, err, "%s does not match its record in %s", file, above)
	}
	return fail(kind, err, "%s %s", file, phrase(kind))
}

// recordedIn names the file that records each file's version and hash.
var recordedIn = map[string]string{"snapshot.json": "timestamp.json", "targets.json": "snapshot.json"}

func minTime(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

// Find returns the release of version.
func (v *Verified) Find(version string) (Release, bool) {
	for _, r := range v.Releases {
		if r.Version == version {
			return r, true
		}
	}
	return Release{}, false
}

// Artifact returns the artifact of version for component on os/arch.
func (v *Verified) Artifact(version, component, os, arch string) (Artifact, bool) {
	r, ok := v.Find(version)
	if !ok {
		return Artifact{}, false
	}
	for _, a := range r.Artifacts {
		if a.Component == component && a.OS == os && a.Arch == arch {
			return a, true
		}
	}
	return Artifact{}, false
}

// Latest returns the newest release on channel that is not withdrawn. The
// beta channel includes stable releases: a beta site never stays behind
// stable.
func (v *Verified) Latest(channel string) (Release, bool) {
	for _, r := range v.Releases {
		if r.Withdrawn {
			continue
		}
		if r.Channel == channel || (channel == ChannelBeta && r.Channel == ChannelStable) {
			return r, true
		}
	}
	return Release{}, false
}

// VerifyArtifact reads r and checks its length and SHA-256 against a, which
// must come from verified targets. It stops reading one byte past a.Length:
// a longer stream is already wrong.
func VerifyArtifact(a Artifact, r io.Reader) error {
	want, err := hex.DecodeString(a.SHA256)
	if err != nil || len(want) != sha256.Size || a.Length < 0 {
		return fail(ErrMalformed, nil, "artifact %s has a bad length or sha256", a.Name)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, a.Length+1))
	if err != nil {
		return fmt.Errorf("release: reading artifact %s: %w", a.Name, err)
	}
	if n > a.Length {
		return fail(ErrMismatch, nil, "artifact %s is longer than its %d signed bytes", a.Name, a.Length)
	}
	if n < a.Length {
		return fail(ErrMismatch, nil, "artifact %s has %d bytes, signed length is %d", a.Name, n, a.Length)
	}
	got := h.Sum(nil)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fail(ErrMismatch, nil, "artifact %s has sha256 %x, signed sha256 is %s", a.Name, got, a.SHA256)
	}
	return nil
}

// RootVersion is the version of trust's root, 0 when it does not parse: a
// site asks its hub for the roots after it.
func RootVersion(trust Trust) int64 {
	root, err := metadata.Root().FromBytes(trust.Root)
	if err != nil {
		return 0
	}
	return root.Signed.Version
}

// CompareVersions orders two release versions as semver does (-1, 0, 1);
// a version that does not parse sorts before every one that does.
func CompareVersions(a, b string) int { return compareSemver(a, b) }
