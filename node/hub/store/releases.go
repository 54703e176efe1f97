package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ReleaseKeys is one generation of the release signing keys, sealed with
// the hub's data key. A root rotation adds a generation; the newest signs.
type ReleaseKeys struct {
	Version    int
	KeysSealed string
	CreatedAt  time.Time
}

// Release is one published version as the catalogue keeps it: the notes
// and links are editable after release, the signed facts (channel,
// artifacts, withdrawal) live in the TUF metadata too.
type Release struct {
	Version        string
	Channel        string
	Notes          string
	Changelog      string
	DocURL         string
	VideoURL       string
	PublishedAt    time.Time
	PublishedBy    string
	WithdrawnAt    time.Time // zero unless withdrawn
	WithdrawReason string
	RemovedAt      time.Time // zero unless removed from the repository
	Artifacts      []ReleaseArtifact
}

// ReleaseArtifact is one file of a release.
type ReleaseArtifact struct {
	Name      string // the TUF target path
	Version   string
	Component string
	OS, Arch  string
	SHA256    string
	Size      int64
}

// ReleaseKeys returns the newest key generation; ErrNotFound before the
// first.
func (t *Tx) ReleaseKeys(ctx context.Context) (ReleaseKeys, error) {
	var k ReleaseKeys
	var created int64
	err := t.tx.QueryRowContext(ctx, `SELECT version, keys_sealed, created_at FROM release_keys ORDER BY version DESC LIMIT 1`).
		Scan(&k.Version, &k.KeysSealed, &created)
	if err != nil {
		return ReleaseKeys{}, t.wrap("release keys", err)
	}
	k.CreatedAt = fromMS(created)
	return k, nil
}

// AddReleaseKeys stores a key generation; a version taken already (two
// hub processes initialising at once) is ErrConflict.
func (t *Tx) AddReleaseKeys(ctx context.Context, k ReleaseKeys) error {
	if k.Version < 1 || k.KeysSealed == "" {
		return fmt.Errorf("%w: release keys without version or keys", ErrInvalid)
	}
	_, err := t.exec(ctx, fmt.Sprintf("release keys %d", k.Version),
		`INSERT INTO release_keys (version, keys_sealed, created_at) VALUES ($1, $2, $3)`, k.Version, k.KeysSealed, ms(k.CreatedAt))
	return err
}

// ReleaseMetadata returns every stored metadata file by name
// ("1.root.json", "targets.json", ...).
func (t *Tx) ReleaseMetadata(ctx context.Context) (map[string]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT name, data FROM release_metadata`)
	if err != nil {
		return nil, t.wrap("release metadata", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, d string
		if err := rows.Scan(&n, &d); err != nil {
			return nil, fmt.Errorf("store: scan: %w", err)
		}
		out[n] = d
	}
	return out, rows.Err()
}

// PutReleaseMetadata writes the files that changed. Each carries the text
// the writer read (empty for a new file): a file another hub process
// changed meanwhile is ErrConflict and nothing is written, so two
// publishers never sign over each other's versions.
func (t *Tx) PutReleaseMetadata(ctx context.Context, files map[string][2]string, now time.Time) error {
	for name, f := range files {
		old, data := f[0], f[1]
		if old == data {
			continue
		}
		var r sql.Result
		var err error
		if old == "" {
			r, err = t.exec(ctx, "release metadata "+name, `INSERT INTO release_metadata (name, data, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, data, ms(now))
		} else {
			r, err = t.exec(ctx, "release metadata "+name, `UPDATE release_metadata SET data = $2, updated_at = $3 WHERE name = $1 AND data = $4`, name, data, ms(now), old)
		}
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: release metadata %s changed meanwhile; try again", ErrConflict, name)
		}
	}
	return nil
}

// AddRelease records a published release and its artifacts.
func (t *Tx) AddRelease(ctx context.Context, r Release) error {
	if r.Version == "" || len(r.Artifacts) == 0 {
		return fmt.Errorf("%w: a release needs a version and artifacts", ErrInvalid)
	}
	_, err := t.exec(ctx, "release "+r.Version, `INSERT INTO releases (version, channel, notes, changelog, doc_url, video_url, published_at, published_by, withdrawn_at, withdraw_reason, removed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, '', NULL)`, r.Version, r.Channel, r.Notes, r.Changelog, r.DocURL, r.VideoURL, ms(r.PublishedAt), r.PublishedBy)
	if err != nil {
		return err
	}
	for _, a := range r.Artifacts {
		if _, err := t.exec(ctx, "release artifact "+a.Name, `INSERT INTO release_artifacts (name, version, component, os, arch, sha256, size) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.Name, r.Version, a.Component, a.OS, a.Arch, a.SHA256, a.Size); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseNotes are the editable parts of a release.
type ReleaseNotes struct {
	Notes, Changelog, DocURL, VideoURL string
}

// SetReleaseNotes replaces a release's notes and links.
func (t *Tx) SetReleaseNotes(ctx context.Context, version string, n ReleaseNotes) error {
	r, err := t.exec(ctx, "release "+version, `UPDATE releases SET notes = $2, changelog = $3, doc_url = $4, video_url = $5 WHERE version = $1`,
		version, n.Notes, n.Changelog, n.DocURL, n.VideoURL)
	if err != nil {
		return err
	}
	return affectedOne(r, "release "+version)
}

// SetReleaseChannel moves a release to another channel.
func (t *Tx) SetReleaseChannel(ctx context.Context, version, channel string) error {
	r, err := t.exec(ctx, "release "+version, `UPDATE releases SET channel = $2 WHERE version = $1`, version, channel)
	if err != nil {
		return err
	}
	return affectedOne(r, "release "+version)
}

// WithdrawRelease marks a release withdrawn.
func (t *Tx) WithdrawRelease(ctx context.Context, version, reason string, at time.Time) error {
	r, err := t.exec(ctx, "release "+version, `UPDATE releases SET withdrawn_at = $2, withdraw_reason = $3 WHERE version = $1 AND withdrawn_at IS NULL`, version, ms(at), reason)
	if err != nil {
		return err
	}
	return affectedOne(r, "release "+version+" (not withdrawn already)")
}

// MarkReleasesRemoved records that versions left the repository.
func (t *Tx) MarkReleasesRemoved(ctx context.Context, versions []string, at time.Time) error {
	for _, v := range versions {
		if _, err := t.exec(ctx, "release "+v, `UPDATE releases SET removed_at = $2 WHERE version = $1 AND removed_at IS NULL`, v, ms(at)); err != nil {
			return err
		}
	}
	return nil
}

func scanRelease(r interface{ Scan(...any) error }) (Release, error) {
	var x Release
	var published int64
	var withdrawn, removed sql.NullInt64
	err := r.Scan(&x.Version, &x.Channel, &x.Notes, &x.Changelog, &x.DocURL, &x.VideoURL, &published, &x.PublishedBy, &withdrawn, &x.WithdrawReason, &removed)
	x.PublishedAt, x.WithdrawnAt, x.RemovedAt = fromMS(published), fromNullMS(withdrawn), fromNullMS(removed)
	return x, err
}

const releaseCols = `version, channel, notes, changelog, doc_url, video_url, published_at, published_by, withdrawn_at, withdraw_reason, removed_at`

// ListReleases returns every release with its artifacts, the latest
// published first; removed ones only when asked.
func (t *Tx) ListReleases(ctx context.Context, withRemoved bool) ([]Release, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE ($1 = 1 OR removed_at IS NULL) ORDER BY published_at DESC, version DESC`, btoi(withRemoved))
	if err != nil {
		return nil, t.wrap("releases", err)
	}
	rs, err := collect(rows, scanRelease)
	if err != nil {
		return nil, err
	}
	arts, err := t.releaseArtifacts(ctx, "")
	if err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].Artifacts = arts[rs[i].Version]
	}
	return rs, nil
}

// GetRelease returns one release with its artifacts.
func (t *Tx) GetRelease(ctx context.Context, version string) (Release, error) {
	r, err := scanRelease(t.tx.QueryRowContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE version = $1`, version))
	if err != nil {
		return Release{}, t.wrap("release "+version, err)
	}
	arts, err := t.releaseArtifacts(ctx, version)
	if err != nil {
		return Release{}, err
	}
	r.Artifacts = arts[version]
	return r, nil
}

func (t *Tx) releaseArtifacts(ctx context.Context, version string) (map[string][]ReleaseArtifact, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT name, version, component, os, arch, sha256, size FROM release_artifacts
		WHERE ($1 = '' OR version = $1) ORDER BY component, os, arch`, version)
	if err != nil {
		return nil, t.wrap("release artifacts", err)
	}
	as, err := collect(rows, func(r interface{ Scan(...any) error }) (ReleaseArtifact, error) {
		var a ReleaseArtifact
		err := r.Scan(&a.Name, &a.Version, &a.Component, &a.OS, &a.Arch, &a.SHA256, &a.Size)
		return a, err
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]ReleaseArtifact{}
	for _, a := range as {
		out[a.Version] = append(out[a.Version], a)
	}
	return out, nil
}

// ReleaseArtifact returns the artifact at a target path.
func (t *Tx) ReleaseArtifact(ctx context.Context, name string) (ReleaseArtifact, Release, error) {
	var a ReleaseArtifact
	err := t.tx.QueryRowContext(ctx, `SELECT name, version, component, os, arch, sha256, size FROM release_artifacts WHERE name = $1`, name).
		Scan(&a.Name, &a.Version, &a.Component, &a.OS, &a.Arch, &a.SHA256, &a.Size)
	if err != nil {
		return ReleaseArtifact{}, Release{}, t.wrap("release artifact "+name, err)
	}
	r, err := scanRelease(t.tx.QueryRowContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE version = $1`, a.Version))
	if err != nil {
		return ReleaseArtifact{}, Release{}, t.wrap("release "+a.Version, err)
	}
	return a, r, nil
}

// ArtifactInUse reports whether any release still in the repository
// references the content sha256 (so its file must stay).
func (t *Tx) ArtifactInUse(ctx context.Context, sha string) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM release_artifacts a JOIN releases r ON r.version = a.version
		WHERE a.sha256 = $1 AND r.removed_at IS NULL`, sha).Scan(&n)
	if err != nil {
		return false, t.wrap("release artifact use", err)
	}
	return n > 0, nil
}
