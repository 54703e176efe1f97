package hub

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/release"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The vendor's release repository (issue 15): TUF metadata signed by keys
// the hub keeps sealed like its license keys, a catalogue of releases with
// their notes, and the artifacts' bytes in <data_dir>/releases named by
// their SHA-256. Every change to the repository loads it from the
// database, signs, and writes back only if nobody else signed meanwhile.

// releaseProduct names what the releases are of, in announcements.
const releaseProduct = "licmesh"

// maxArtifactBytes bounds one uploaded artifact.
const maxArtifactBytes = 1 << 30

// releaseDir holds the artifacts.
func (s *Server) releaseDir() string { return filepath.Join(s.cfg.DataDir, "releases") }

// artifactPath is where the artifact with content sha lives.
func (s *Server) artifactPath(sha string) string { return filepath.Join(s.releaseDir(), sha) }

// metadataNames lists the files of st by their repository names.
func metadataFiles(st release.RepoState) map[string]string {
	out := map[string]string{
		"targets.json":   string(st.Targets),
		"snapshot.json":  string(st.Snapshot),
		"timestamp.json": string(st.Timestamp),
	}
	for i, r := range st.Roots {
		out[strconv.Itoa(i+1)+".root.json"] = string(r)
	}
	return out
}

// repoState rebuilds a repository state from its stored files.
func repoState(files map[string]string) (release.RepoState, error) {
	var st release.RepoState
	for n := 1; ; n++ {
		r, ok := files[strconv.Itoa(n)+".root.json"]
		if !ok {
			break
		}
		st.Roots = append(st.Roots, []byte(r))
	}
	st.Targets, st.Snapshot, st.Timestamp = []byte(files["targets.json"]), []byte(files["snapshot.json"]), []byte(files["timestamp.json"])
	if len(st.Roots) == 0 || len(st.Targets) == 0 || len(st.Snapshot) == 0 || len(st.Timestamp) == 0 {
		return release.RepoState{}, fmt.Errorf("%w: the release repository is incomplete in the database", store.ErrNotFound)
	}
	return st, nil
}

func keysLabel(version int) string { return "release-keys:" + strconv.Itoa(version) }

// ensureReleaseRepo makes the release repository at first start: keys and
// root version 1. Two hub processes starting at once both try; one wins.
func (s *Server) ensureReleaseRepo(ctx context.Context) error {
	var have bool
	if err := s.store.Read(ctx, func(tx *store.Tx) error {
		_, err := tx.ReleaseKeys(ctx)
		have = err == nil
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil || have {
		return err
	}
	keys, err := release.GenerateKeys(s.cfg.ReleaseRootKeys, s.cfg.ReleaseRootThreshold, 1, 1)
	if err != nil {
		return err
	}
	now := s.clk.Now()
	repo, err := release.NewRepo(keys, release.DefaultExpiries(), now)
	if err != nil {
		return err
	}
	raw, err := keys.MarshalBinary()
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.AddReleaseKeys(ctx, store.ReleaseKeys{Version: 1, KeysSealed: s.key.seal(raw, keysLabel(1)), CreatedAt: now}); err != nil {
			return err
		}
		files := map[string][2]string{}
		for n, d := range metadataFiles(repo.State()) {
			files[n] = [2]string{"", d}
		}
		if err := tx.PutReleaseMetadata(ctx, files, now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "release.init", Target: "root v1",
			Detail: fmt.Sprintf("%d root keys, threshold %d", s.cfg.ReleaseRootKeys, s.cfg.ReleaseRootThreshold), Remote: "local"})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil // another process made it
	}
	return err
}

// releaseKeys opens the signing keys of a generation.
func (s *Server) releaseKeys(k store.ReleaseKeys) (release.Keys, error) {
	raw, err := s.key.open(k.KeysSealed, keysLabel(k.Version))
	if err != nil {
		return release.Keys{}, err
	}
	var keys release.Keys
	if err := keys.UnmarshalBinary(raw); err != nil {
		return release.Keys{}, fmt.Errorf("%w: release keys %d: %w", ErrDataKey, k.Version, err)
	}
	return keys, nil
}

// withRepo runs f on the repository in tx and stores what f signed. f
// may also write the catalogue in tx: both commit together.
func (s *Server) withRepo(ctx context.Context, tx *store.Tx, f func(r *release.Repo) error) error {
	k, err := tx.ReleaseKeys(ctx)
	if err != nil {
		return err
	}
	keys, err := s.releaseKeys(k)
	if err != nil {
		return err
	}
	files, err := tx.ReleaseMetadata(ctx)
	if err != nil {
		return err
	}
	st, err := repoState(files)
	if err != nil {
		return err
	}
	repo, err := release.LoadRepo(keys, release.DefaultExpiries(), st)
	if err != nil {
		return err
	}
	if err := f(repo); err != nil {
		return err
	}
	changed := map[string][2]string{}
	for n, d := range metadataFiles(repo.State()) {
		if files[n] != d {
			changed[n] = [2]string{files[n], d}
		}
	}
	return tx.PutReleaseMetadata(ctx, changed, s.clk.Now())
}

// readRepo returns the stored metadata, for sites and pages.
func (s *Server) readRepo(ctx context.Context, tx *store.Tx) (release.RepoState, error) {
	files, err := tx.ReleaseMetadata(ctx)
	if err != nil {
		return release.RepoState{}, err
	}
	return repoState(files)
}

// artifactFile is the part of an upload that names an artifact:
// <component>-<os>-<arch>.
var artifactFile = regexp.MustCompile(`^(meshd|collectord)-([a-z0-9]{2,16})-([a-z0-9]{2,16})$`)

// spooledArtifact is an uploaded artifact on disk, before it is published.
type spooledArtifact struct {
	Component, OS, Arch string
	Path                string
	SHA256              string
	Size                int64
}

// spoolArtifact copies r to a temporary file in the release directory,
// hashing it on the way, and refuses more than maxArtifactBytes.
func (s *Server) spoolArtifact(name string, r io.Reader) (spooledArtifact, error) {
	m := artifactFile.FindStringSubmatch(name)
	if m == nil {
		return spooledArtifact{}, fmt.Errorf("%w: artifact %q: name it <meshd|collectord>-<os>-<arch>, e.g. meshd-linux-amd64", ErrInvalidArgument, clipName(name))
	}
	if err := os.MkdirAll(s.releaseDir(), 0o750); err != nil {
		return spooledArtifact{}, err
	}
	f, err := os.CreateTemp(s.releaseDir(), ".upload-*")
	if err != nil {
		return spooledArtifact{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, maxArtifactBytes+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxArtifactBytes {
		err = fmt.Errorf("%w: artifact %s is larger than %d bytes", ErrInvalidArgument, name, int64(maxArtifactBytes))
	}
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: artifact %s is empty", ErrInvalidArgument, name)
	}
	if err != nil {
		os.Remove(f.Name())
		return spooledArtifact{}, err
	}
	return spooledArtifact{Component: m[1], OS: m[2], Arch: m[3], Path: f.Name(), SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// publishRequest is one release to publish.
type publishRequest struct {
	Version, Channel                   string
	Notes, Changelog, DocURL, VideoURL string
	// Notify is the mailing list to announce it to ("" for none) and
	// Template the announcement's mail kind.
	Notify, Template string
	Artifacts        []spooledArtifact
}

func (pr *publishRequest) validate() error {
	pr.Version = strings.TrimPrefix(strings.TrimSpace(pr.Version), "v")
	pr.Channel = cmp.Or(strings.TrimSpace(pr.Channel), release.ChannelStable)
	if pr.Channel != release.ChannelStable && pr.Channel != release.ChannelBeta {
		return fmt.Errorf("%w: channel %q: stable or beta", ErrInvalidArgument, clipName(pr.Channel))
	}
	pr.Template = cmp.Or(pr.Template, mailRelease)
	if !slices.Contains(releaseTemplates, pr.Template) {
		return fmt.Errorf("%w: template %q: one of %s", ErrInvalidArgument, clipName(pr.Template), strings.Join(releaseTemplates, ", "))
	}
	for _, u := range []string{pr.DocURL, pr.VideoURL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return fmt.Errorf("%w: link %q: an http(s) URL", ErrInvalidArgument, clipName(u))
		}
	}
	if len(pr.Notes) > 64<<10 || len(pr.Changelog) > 256<<10 {
		return fmt.Errorf("%w: notes at most 64 KiB, changelog at most 256 KiB", ErrInvalidArgument)
	}
	if len(pr.Artifacts) == 0 {
		return fmt.Errorf("%w: a release needs at least one artifact", ErrInvalidArgument)
	}
	return nil
}

// publish signs a release into the repository, moves its artifacts in
// place, records it and queues its announcement, all or nothing: a
// refused release leaves no file and no row.
func (s *Server) publish(ctx context.Context, p *principal, remote string, pr publishRequest) (store.Release, error) {
	defer func() {
		for _, a := range pr.Artifacts {
			os.Remove(a.Path) // gone already once published
		}
	}()
	if err := pr.validate(); err != nil {
		return store.Release{}, err
	}
	if pr.Notify != "" {
		if _, ok := s.cfg.ReleaseLists[pr.Notify]; !ok && pr.Notify != "global" {
			return store.Release{}, fmt.Errorf("%w: mailing list %q is not in release_lists", ErrInvalidArgument, clipName(pr.Notify))
		}
		if s.mail == nil {
			return store.Release{}, fmt.Errorf("%w: an announcement needs the hub's mail server (smtp_host)", ErrInvalidArgument)
		}
	}
	now := s.clk.Now()
	rec := store.Release{Version: pr.Version, Channel: pr.Channel, Notes: pr.Notes, Changelog: pr.Changelog, DocURL: pr.DocURL,
		VideoURL: pr.VideoURL, PublishedAt: now, PublishedBy: p.actor()}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		rec.Artifacts = nil
		err := s.withRepo(ctx, tx, func(r *release.Repo) error {
			in := make([]release.ArtifactInput, len(pr.Artifacts))
			files := make([]*os.File, len(pr.Artifacts))
			defer func() {
				for _, f := range files {
					if f != nil {
						f.Close()
					}
				}
			}()
			for i, a := range pr.Artifacts {
				f, err := os.Open(a.Path)
				if err != nil {
					return err
				}
				files[i] = f
				in[i] = release.ArtifactInput{Component: a.Component, OS: a.OS, Arch: a.Arch, Data: f}
			}
			arts, err := r.Publish(now, pr.Version, pr.Channel, in)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
			}
			for _, a := range arts {
				rec.Artifacts = append(rec.Artifacts, store.ReleaseArtifact{Name: a.Name, Version: a.Version, Component: a.Component, OS: a.OS, Arch: a.Arch, SHA256: a.SHA256, Size: a.Length})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.AddRelease(ctx, rec); err != nil {
			return err
		}
		if err := s.announce(ctx, tx, pr, now); err != nil {
			return err
		}
		return s.auditRelease(ctx, tx, p, remote, "release.publish", pr.Version, fmt.Sprintf("channel %s, %d artifacts", pr.Channel, len(rec.Artifacts)), now)
	})
	if err != nil {
		return store.Release{}, err
	}
	// The rows commit first: an artifact whose rename fails is re-uploaded
	// by publishing again under a new version, never served half-there.
	for _, a := range pr.Artifacts {
		if err := os.Rename(a.Path, s.artifactPath(a.SHA256)); err != nil {
			return rec, fmt.Errorf("hub: release %s: keep artifact: %w", pr.Version, err)
		}
	}
	if s.mail != nil && pr.Notify != "" {
		s.mail.nudge()
	}
	s.log.Info("hub: release published", "version", pr.Version, "channel", pr.Channel, "by", p.actor())
	return rec, nil
}

func (s *Server) auditRelease(ctx context.Context, tx *store.Tx, p *principal, remote, action, target, detail string, now time.Time) error {
	return tx.Audit(ctx, store.AuditEntry{At: now, Actor: p.actor(), Action: action, Target: target, Detail: detail, Remote: remote})
}

// announce queues the release's mail to every address of its list.
func (s *Server) announce(ctx context.Context, tx *store.Tx, pr publishRequest, now time.Time) error {
	if pr.Notify == "" {
		return nil
	}
	to := slices.Clone(s.cfg.ReleaseLists[pr.Notify])
	if pr.Notify == "global" {
		accts, err := tx.ListAccounts(ctx, store.AccountFilter{Role: store.RoleCustomer})
		if err != nil {
			return err
		}
		for _, a := range accts {
			if a.DisabledAt.IsZero() {
				to = append(to, a.Email)
			}
		}
	}
	slices.Sort(to)
	d := mailData{Release: &releaseMail{Product: releaseProduct, Version: pr.Version, Channel: pr.Channel, Notes: pr.Notes,
		Changelog: pr.Changelog, DocURL: pr.DocURL, VideoURL: pr.VideoURL}}
	for _, addr := range slices.Compact(to) {
		if err := s.enqueueMail(ctx, tx, pr.Template, addr, d, now); err != nil {
			return err
		}
	}
	return nil
}

// withdraw marks a release withdrawn, signed: sites running it go back.
func (s *Server) withdraw(ctx context.Context, p *principal, remote, version, reason string) (store.Release, error) {
	if strings.TrimSpace(reason) == "" {
		return store.Release{}, fmt.Errorf("%w: say why the release is withdrawn (--reason)", ErrInvalidArgument)
	}
	now := s.clk.Now()
	var out store.Release
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.WithdrawRelease(ctx, version, reason, now); err != nil {
			return err
		}
		if err := s.withRepo(ctx, tx, func(r *release.Repo) error { return r.Withdraw(now, version) }); err != nil {
			return err
		}
		if err := s.auditRelease(ctx, tx, p, remote, "release.withdraw", version, reason, now); err != nil {
			return err
		}
		var err error
		out, err = tx.GetRelease(ctx, version)
		return err
	})
	return out, err
}

// releaseLoop keeps the repository's short-lived metadata fresh (the
// timestamp lives a day) and removes releases past release_retention.
func (s *Server) releaseLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		if err := s.refreshReleases(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("hub: release repository refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshReleases re-signs what is due and drops expired releases.
func (s *Server) refreshReleases(ctx context.Context) error {
	now := s.clk.Now()
	var removed []store.ReleaseArtifact
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		removed = nil
		var drop []string
		if s.cfg.ReleaseRetention > 0 {
			rs, err := tx.ListReleases(ctx, false)
			if err != nil {
				return err
			}
			newest := map[string]bool{}
			for _, r := range rs { // latest first
				if !newest[r.Channel] && r.WithdrawnAt.IsZero() {
					newest[r.Channel] = true
					continue
				}
				if now.Sub(r.PublishedAt) > s.cfg.ReleaseRetention {
					drop = append(drop, r.Version)
					removed = append(removed, r.Artifacts...)
				}
			}
		}
		err := s.withRepo(ctx, tx, func(r *release.Repo) error {
			if len(drop) > 0 {
				if err := r.Remove(now, drop...); err != nil {
					return err
				}
			}
			_, err := r.Refresh(now)
			return err
		})
		if err != nil || len(drop) == 0 {
			return err
		}
		if err := tx.MarkReleasesRemoved(ctx, drop, now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "release.remove", Target: strings.Join(drop, ","),
			Detail: "older than release_retention " + s.cfg.ReleaseRetention.String(), Remote: "local"})
	})
	if err != nil {
		return err
	}
	for _, a := range removed {
		var used bool
		if err := s.store.Read(ctx, func(tx *store.Tx) error {
			var err error
			used, err = tx.ArtifactInUse(ctx, a.SHA256)
			return err
		}); err == nil && !used {
			os.Remove(s.artifactPath(a.SHA256))
		}
	}
	return nil
}

// RotateReleaseKeys makes new release signing keys and the root version
// that moves trust to them, signed by the old root keys and the new: a
// site follows the chain at its next check and trusts only the new keys
// from then on. It returns the new root version.
func (s *Server) RotateReleaseKeys(ctx context.Context, actor string) (int, error) {
	keys, err := release.GenerateKeys(s.cfg.ReleaseRootKeys, s.cfg.ReleaseRootThreshold, 1, 1)
	if err != nil {
		return 0, err
	}
	raw, err := keys.MarshalBinary()
	if err != nil {
		return 0, err
	}
	now := s.clk.Now()
	var version int
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.ReleaseKeys(ctx)
		if err != nil {
			return err
		}
		if err := s.withRepo(ctx, tx, func(r *release.Repo) error { return r.RotateRoot(now, keys) }); err != nil {
			return err
		}
		next := cur.Version + 1
		if err := tx.AddReleaseKeys(ctx, store.ReleaseKeys{Version: next, KeysSealed: s.key.seal(raw, keysLabel(next)), CreatedAt: now}); err != nil {
			return err
		}
		st, err := s.readRepo(ctx, tx)
		if err != nil {
			return err
		}
		version = len(st.Roots)
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "release.rotate_keys", Target: fmt.Sprintf("root v%d", version),
			Detail: fmt.Sprintf("%d root keys, threshold %d", s.cfg.ReleaseRootKeys, s.cfg.ReleaseRootThreshold), Remote: "local"})
	})
	return version, err
}
