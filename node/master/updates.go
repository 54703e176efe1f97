package master

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/release"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/mesh/cluster"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/version"
)

// Updates (issue 15), the site's half: the leader checks the hub's release
// repository on the site's schedule (or takes an uploaded bundle on any
// master), verifies it with TUF against the trust the FSM holds and the
// cluster's trusted time (a clock set back cannot revive expired
// metadata), and records the outcome; artifacts are downloaded once, from
// the hub or the bundle, and every master copies them from a peer that has
// them, checking each against its signed hash. The rollout is in
// rollout.go.

// ErrUpdate is returned for an update request the site cannot honour: no
// such release, no trust anchor, an artifact missing.
var ErrUpdate = errors.New("master: update")

// maxBundleBytes bounds an uploaded offline bundle.
const maxBundleBytes = 2 << 30

// artifactDir holds this master's copies of release artifacts, by SHA-256.
func (s *Server) artifactDir() string { return filepath.Join(s.cfg.DataDir, "releases") }

func (s *Server) artifactPath(sha string) string { return filepath.Join(s.artifactDir(), sha) }

// hasArtifact reports whether this master holds the artifact.
func (s *Server) hasArtifact(sha string) bool {
	st, err := os.Stat(s.artifactPath(sha))
	return err == nil && st.Mode().IsRegular()
}

// storeArtifact copies r into the artifact store, checking its size and
// hash as it goes: nothing unverified is ever under its final name.
func (s *Server) storeArtifact(r io.Reader, size int64, sha string) error {
	if s.hasArtifact(sha) {
		return nil
	}
	if err := os.MkdirAll(s.artifactDir(), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.artifactDir(), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err
	case n != size:
		return fmt.Errorf("%w: artifact %s: %d bytes, the signed metadata says %d", ErrUpdate, short(sha), n, size)
	case hex.EncodeToString(h.Sum(nil)) != sha:
		return fmt.Errorf("%w: artifact %s: its SHA-256 does not match the signed metadata (tampered or corrupt)", ErrUpdate, short(sha))
	}
	return os.Rename(f.Name(), s.artifactPath(sha))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// trustedNow is the time release metadata is judged at: the later of
// this master's clock and the cluster's trusted time.
func (s *Server) trustedNow() time.Time {
	now := s.now()
	if t := s.fsm.TrustedTime(); t.After(now) {
		return t
	}
	return now
}

// releaseTrust is what the site trusts now: the FSM's, or the anchor
// from release_root_file before the first verification.
func (s *Server) releaseTrust() (release.Trust, bool, error) {
	u := s.fsm.Updates()
	if len(u.Trust.Root) > 0 {
		return release.Trust{Root: u.Trust.Root, Timestamp: u.Trust.Timestamp, Snapshot: u.Trust.Snapshot, Targets: u.Trust.Targets}, true, nil
	}
	if s.cfg.ReleaseRootFile == "" {
		return release.Trust{}, false, nil
	}
	b, err := os.ReadFile(s.cfg.ReleaseRootFile)
	if err != nil {
		return release.Trust{}, false, fmt.Errorf("%w: release_root_file: %w", ErrUpdate, err)
	}
	t, err := release.TrustFromRoot(b)
	if err != nil {
		return release.Trust{}, false, fmt.Errorf("%w: release_root_file %s: %w", ErrUpdate, s.cfg.ReleaseRootFile, err)
	}
	return t, true, nil
}

// verifyReleases runs TUF over md and returns the command that records it.
func (s *Server) verifyReleases(md release.Metadata, source string, notes map[string]*licmeshv1.ReleaseInfo) (fsm.UpdateChecked, error) {
	trust, ok, err := s.releaseTrust()
	if err != nil {
		return fsm.UpdateChecked{}, err
	}
	if !ok {
		if source != "hub" || len(md.Roots) == 0 {
			return fsm.UpdateChecked{}, fmt.Errorf("%w: no trusted release root yet: set release_root_file, or check the hub once", ErrUpdate)
		}
		// Trust on first use, over the hub connection pinned at
		// activation: the first root the hub serves.
		if trust, err = release.TrustFromRoot(md.Roots[0]); err != nil {
			return fsm.UpdateChecked{}, fmt.Errorf("%w: the hub's root: %w", ErrUpdate, err)
		}
	}
	nt, v, err := release.Verify(trust, md, s.trustedNow())
	if err != nil {
		return fsm.UpdateChecked{}, fmt.Errorf("%w: %w", ErrUpdate, err)
	}
	cmd := fsm.UpdateChecked{Source: source, Trust: &fsm.ReleaseTrust{Root: nt.Root, Timestamp: nt.Timestamp, Snapshot: nt.Snapshot, Targets: nt.Targets},
		Now: s.now().UnixMilli()}
	old := s.fsm.Updates()
	for _, r := range v.Releases {
		kr := fsm.KnownRelease{Version: r.Version, Channel: r.Channel, Released: r.Released.UnixMilli(), Withdrawn: r.Withdrawn}
		if n := notes[r.Version]; n != nil {
			kr.Notes, kr.Changelog, kr.DocURL, kr.VideoURL = n.GetNotes(), n.GetChangelog(), n.GetDocUrl(), n.GetVideoUrl()
		} else if prev, ok := old.Release(r.Version); ok { // a bundle carries no notes: keep the hub's
			kr.Notes, kr.Changelog, kr.DocURL, kr.VideoURL = prev.Notes, prev.Changelog, prev.DocURL, prev.VideoURL
		}
		for _, a := range r.Artifacts {
			kr.Artifacts = append(kr.Artifacts, fsm.ReleaseArtifact{Name: a.Name, Component: a.Component, OS: a.OS, Arch: a.Arch, SHA256: a.SHA256, Size: a.Length})
		}
		cmd.Releases = append(cmd.Releases, kr)
		if len(cmd.Releases) == 200 {
			break
		}
	}
	return cmd, nil
}

// checkUpdates asks the hub for its release metadata, verifies and
// records it; a failure is recorded too, for the updates page.
func (s *Server) checkUpdates(ctx context.Context) error {
	st := s.fsm.Upstream()
	if !st.Activated {
		return fmt.Errorf("%w: the cluster is not activated with a hub: upload an offline bundle instead", ErrUpdate)
	}
	cmd, err := s.fetchReleases(ctx, st)
	if err != nil {
		_, _ = s.apply(ctx, fsm.UpdateCheckedType, fsm.UpdateChecked{Source: "hub", Error: clipErr(err), Now: s.now().UnixMilli()})
		return err
	}
	_, err = s.apply(ctx, fsm.UpdateCheckedType, cmd)
	return err
}

func clipErr(err error) string {
	m := err.Error()
	if len(m) > 1900 {
		m = m[:1900] + "…"
	}
	return m
}

func (s *Server) fetchReleases(ctx context.Context, st fsm.UpstreamStatus) (fsm.UpdateChecked, error) {
	key, err := s.clusterKey()
	if err != nil {
		return fsm.UpdateChecked{}, err
	}
	proof, err := upstream.SealProof(license.ClusterID(s.id.clusterID), "releases", s.now(), key)
	if err != nil {
		return fsm.UpdateChecked{}, err
	}
	c, err := hubClient(st.Hub.URL, st.Hub.CAPEM, "")
	if err != nil {
		return fsm.UpdateChecked{}, err
	}
	var rootVersion int64
	if trust, ok, _ := s.releaseTrust(); ok {
		rootVersion = release.RootVersion(trust)
	}
	cctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	resp, err := c.SiteReleases(cctx, connect.NewRequest(&licmeshv1.SiteReleasesRequest{Proof: proof.Marshal(), RootVersion: rootVersion}))
	if err != nil {
		return fsm.UpdateChecked{}, fmt.Errorf("%w: the hub: %w", ErrUpdate, err)
	}
	m := resp.Msg
	notes := map[string]*licmeshv1.ReleaseInfo{}
	for _, n := range m.GetNotes() {
		notes[n.GetVersion()] = n
	}
	return s.verifyReleases(release.Metadata{Roots: m.GetRoots(), Timestamp: m.GetTimestamp(), Snapshot: m.GetSnapshot(), Targets: m.GetTargets()}, "hub", notes)
}

// downloadRelease fetches every artifact of version this master lacks,
// from a peer that holds it or else from the hub, and records what it
// holds.
func (s *Server) downloadRelease(ctx context.Context, version string) error {
	u := s.fsm.Updates()
	rel, ok := u.Release(version)
	if !ok {
		return fmt.Errorf("%w: release %s is not in the verified metadata (check first)", ErrUpdate, version)
	}
	if rel.Withdrawn {
		return fmt.Errorf("%w: release %s was withdrawn by the vendor", ErrUpdate, version)
	}
	if err := s.coveredByLicenses(rel); err != nil {
		return err
	}
	var got []string
	for _, a := range rel.Artifacts {
		if !s.hasArtifact(a.SHA256) {
			if err := s.fetchArtifact(ctx, u, a); err != nil {
				return err
			}
		}
		got = append(got, a.SHA256)
	}
	return s.recordStored(ctx, got)
}

// recordStored tells the cluster this master holds artifacts.
func (s *Server) recordStored(ctx context.Context, shas []string) error {
	have := s.fsm.Updates().Stored[s.cfg.NodeID]
	var missing []string
	for _, h := range shas {
		if !slices.Contains(have, h) && !slices.Contains(missing, h) {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err := s.apply(ctx, fsm.ArtifactStoredType, fsm.ArtifactStored{Node: s.cfg.NodeID, SHA256: missing, Now: s.now().UnixMilli()})
	return err
}

// coveredByLicenses refuses a release made after every license's updates
// ended (seed 001: such a license sees it, cannot take it).
func (s *Server) coveredByLicenses(rel fsm.KnownRelease) error {
	var until time.Time
	for _, l := range s.fsm.Licenses() {
		if u := l.Payload.UpdatesUntil(); u.After(until) {
			until = u
		}
	}
	released := time.UnixMilli(rel.Released)
	if until.IsZero() {
		return fmt.Errorf("%w: no license covers updates: add one before installing %s", ErrUpdate, rel.Version)
	}
	if released.After(until) {
		return fmt.Errorf("%w: release %s came out %s, after the licenses' updates ended (%s): renew to install it", ErrUpdate, rel.Version,
			released.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly))
	}
	return nil
}

// fetchArtifact gets one artifact from a master that holds it, or the hub.
func (s *Server) fetchArtifact(ctx context.Context, u fsm.UpdateState, a fsm.ReleaseArtifact) error {
	var errs []error
	for node, have := range u.Stored {
		if node == s.cfg.NodeID || !slices.Contains(have, a.SHA256) {
			continue
		}
		addr := s.memberAPI(node)
		if addr == "" {
			continue
		}
		err := s.fetchFrom(ctx, s.peers.hc, "https://"+addr+"/v1/peer/artifacts/"+a.SHA256, nil, a)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("from %s: %w", node, err))
	}
	if st := s.fsm.Upstream(); st.Activated {
		key, err := s.clusterKey()
		if err != nil {
			return err
		}
		proof, err := upstream.SealProof(license.ClusterID(s.id.clusterID), "download", s.now(), key)
		if err != nil {
			return err
		}
		hc, err := hubHTTPClient(st.Hub.CAPEM)
		if err != nil {
			return err
		}
		err = s.fetchFrom(ctx, hc, strings.TrimRight(st.Hub.URL, "/")+"/v1/releases/artifacts/"+a.Name,
			map[string]string{"X-Licmesh-Proof": base64.StdEncoding.EncodeToString(proof.Marshal())}, a)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("from the hub: %w", err))
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: artifact %s: no master holds it and no hub is reachable (upload the bundle)", ErrUpdate, a.Name)
	}
	return fmt.Errorf("%w: artifact %s: %w", ErrUpdate, a.Name, errors.Join(errs...))
}

// fetchFrom downloads url into the artifact store.
func (s *Server) fetchFrom(ctx context.Context, hc *http.Client, url string, headers map[string]string, a fsm.ReleaseArtifact) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
		return fmt.Errorf("%s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	return s.storeArtifact(res.Body, a.Size, a.SHA256)
}

// memberAPI is a master's API address, from gossip.
func (s *Server) memberAPI(node string) string {
	for _, m := range s.node.Members() {
		if string(m.ID) == node && m.State == cluster.StateAlive {
			return m.Meta[metaAPI]
		}
	}
	return ""
}

// artifactLoop runs on every master: it copies what other masters hold
// and it lacks (the leader downloaded a release, or a bundle was uploaded
// elsewhere), so that any master can serve a collector or install itself.
func (s *Server) artifactLoop(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		u := s.fsm.Updates()
		var want []fsm.ReleaseArtifact
		for _, rel := range u.Releases {
			for _, a := range rel.Artifacts {
				if s.hasArtifact(a.SHA256) {
					continue
				}
				for node, have := range u.Stored {
					if node != s.cfg.NodeID && slices.Contains(have, a.SHA256) {
						want = append(want, a)
						break
					}
				}
			}
		}
		var got []string
		for _, a := range want {
			if err := s.fetchArtifact(ctx, u, a); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("updates: copying an artifact from a peer failed", "artifact", a.Name, "err", err)
				}
				continue
			}
			got = append(got, a.SHA256)
		}
		// Also what this master holds but has not recorded (a restart
		// between the copy and the record).
		for _, rel := range u.Releases {
			for _, a := range rel.Artifacts {
				if s.hasArtifact(a.SHA256) && !slices.Contains(u.Stored[s.cfg.NodeID], a.SHA256) && !slices.Contains(got, a.SHA256) {
					got = append(got, a.SHA256)
				}
			}
		}
		if len(got) > 0 {
			if err := s.recordStored(ctx, got); err != nil && ctx.Err() == nil {
				s.log.Warn("updates: recording artifacts failed", "err", err)
			}
		}
	}
}

// serveArtifact serves an artifact this master holds: to collectors on
// their listener, to masters on the peer API. Only content the signed
// metadata lists is served.
func (s *Server) serveArtifact(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !s.knownArtifact(sha) || !s.hasArtifact(sha) {
		http.Error(w, "no such artifact on this master", http.StatusNotFound)
		return
	}
	f, err := os.Open(s.artifactPath(sha))
	if err != nil {
		http.Error(w, "no such artifact on this master", http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (s *Server) knownArtifact(sha string) bool {
	for _, rel := range s.fsm.Updates().Releases {
		for _, a := range rel.Artifacts {
			if a.SHA256 == sha {
				return true
			}
		}
	}
	return false
}

// importBundle verifies an offline bundle against the site's trust,
// stores the artifacts it carries that the verified targets list, and
// records both. Nothing of a bundle that fails verification is kept.
func (s *Server) importBundle(ctx context.Context, r io.Reader) (fsm.UpdateChecked, int, error) {
	tmp, err := os.MkdirTemp(s.cfg.DataDir, ".bundle-*")
	if err != nil {
		return fsm.UpdateChecked{}, 0, err
	}
	defer os.RemoveAll(tmp)
	md, files, err := release.ReadBundle(io.LimitReader(r, maxBundleBytes), tmp)
	if err != nil {
		return fsm.UpdateChecked{}, 0, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	cmd, err := s.verifyReleases(md, "bundle", nil)
	if err != nil {
		return fsm.UpdateChecked{}, 0, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	var stored []string
	for _, rel := range cmd.Releases {
		for _, a := range rel.Artifacts {
			f, ok := files[a.Name]
			if !ok {
				continue
			}
			in, err := os.Open(f.Path)
			if err != nil {
				return fsm.UpdateChecked{}, 0, err
			}
			err = s.storeArtifact(in, a.Size, a.SHA256)
			in.Close()
			if err != nil {
				return fsm.UpdateChecked{}, 0, fmt.Errorf("%w: %w", ErrBadRequest, err)
			}
			stored = append(stored, a.SHA256)
		}
	}
	if _, err := s.apply(ctx, fsm.UpdateCheckedType, cmd); err != nil {
		return fsm.UpdateChecked{}, 0, err
	}
	if err := s.recordStored(ctx, stored); err != nil {
		return fsm.UpdateChecked{}, 0, err
	}
	return cmd, len(stored), nil
}

// updateFacts are the update notifications' conditions, for the alert
// rules.
func (s *Server) updateFacts(now time.Time) alert.Updates {
	u := s.fsm.Updates()
	var f alert.Updates
	if r := u.Rollout; r != nil {
		switch {
		case r.Active():
			f.Installing, f.RolloutID = r.Version, r.ID
		case r.Phase == fsm.PhaseDone && now.Sub(time.UnixMilli(r.EndedAt)) < 24*time.Hour:
			f.Installed, f.InstalledID = r.Version, r.ID
		case r.Phase == fsm.PhaseHalted:
			f.Halted, f.HaltedID = r.HaltReason, r.ID
		}
	}
	latest, ok := s.latestRelease(u)
	if !ok || latest.Version == version.Version || u.Rollout.Active() {
		return f
	}
	stored := s.releaseStored(u, latest)
	switch {
	case !stored && u.Settings.ManualDownload:
		f.Available = latest.Version
	case stored && u.Settings.ManualInstall:
		f.Ready = latest.Version
	}
	return f
}

// latestRelease is the newest release on the site's channel, not
// withdrawn.
func (s *Server) latestRelease(u fsm.UpdateState) (fsm.KnownRelease, bool) {
	ch := u.Settings.ChannelOrDefault()
	var best fsm.KnownRelease
	found := false
	for _, r := range u.Releases {
		if r.Withdrawn || (ch == "stable" && r.Channel != "stable") {
			continue
		}
		if !found || release.CompareVersions(r.Version, best.Version) > 0 {
			best, found = r, true
		}
	}
	return best, found
}

// releaseStored reports whether this master holds every artifact of rel.
func (s *Server) releaseStored(u fsm.UpdateState, rel fsm.KnownRelease) bool {
	for _, a := range rel.Artifacts {
		if !slices.Contains(u.Stored[s.cfg.NodeID], a.SHA256) {
			return false
		}
	}
	return len(rel.Artifacts) > 0
}

// hubHTTPClient is a plain HTTP client for the hub's download routes.
func hubHTTPClient(caPEM []byte) (*http.Client, error) {
	c, err := hubTLS(caPEM)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true, Proxy: http.ProxyFromEnvironment,
		IdleConnTimeout: 90 * time.Second}}, nil
}
