package hub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/release"
	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// releaseAPI serves ReleaseService; publishing and downloads are plain
// HTTP (mountReleases), as artifacts are too large for one message.
type releaseAPI struct {
	s *Server
	a *api
}

// ProofHeader carries a site's signed proof (base64 of its JSON) on a
// plain HTTP request: an artifact download.
const ProofHeader = "X-Licmesh-Proof"

// Proof purposes of the release path.
const (
	purposeReleases = "releases"
	purposeDownload = "download"
)

func releaseInfo(r store.Release, downloadable bool) *licmeshv1.ReleaseInfo {
	out := &licmeshv1.ReleaseInfo{Version: r.Version, Channel: r.Channel, Notes: r.Notes, Changelog: r.Changelog, DocUrl: r.DocURL,
		VideoUrl: r.VideoURL, PublishedAtMs: ms(r.PublishedAt), PublishedBy: r.PublishedBy, WithdrawnAtMs: ms(r.WithdrawnAt),
		WithdrawReason: r.WithdrawReason, RemovedAtMs: ms(r.RemovedAt), Downloadable: downloadable}
	for _, a := range r.Artifacts {
		out.Artifacts = append(out.Artifacts, &licmeshv1.ReleaseArtifact{Name: a.Name, Component: a.Component, Os: a.OS, Arch: a.Arch, Sha256: a.SHA256, Size: a.Size})
	}
	return out
}

// updatesUntil is the last release date a set of licenses covers: the
// latest of each current license's (zero when none is current).
func updatesUntil(ls []store.License, now time.Time) time.Time {
	var until time.Time
	for _, l := range ls {
		if !l.RevokedAt.IsZero() || l.SupersededBy != "" || l.NotBefore.After(now) {
			continue
		}
		u := l.ExpiresAt
		if u.IsZero() { // perpetual: the payload says until when updates come
			env, err := license.Open([]byte(l.Text))
			if err != nil {
				continue
			}
			p, err := license.ParsePayload(env.Payload)
			if err != nil {
				continue
			}
			u = p.UpdatesUntil()
		}
		if u.After(until) {
			until = u
		}
	}
	return until
}

// customerUpdatesUntil is what a customer's company may download.
func customerUpdatesUntil(ctx context.Context, tx *store.Tx, c store.CompanyID, now time.Time) (time.Time, error) {
	ls, err := tx.ListLicenses(ctx, store.LicenseFilter{Company: c, Current: true})
	if err != nil {
		return time.Time{}, err
	}
	return updatesUntil(ls, now), nil
}

func (ra *releaseAPI) ListReleases(ctx context.Context, req *connect.Request[licmeshv1.ListReleasesRequest]) (*connect.Response[licmeshv1.ListReleasesResponse], error) {
	p, _, err := who(ctx, actRead, actPortal, actReseller)
	if err != nil {
		return nil, err
	}
	now := ra.s.clk.Now()
	var out licmeshv1.ListReleasesResponse
	err = ra.s.store.Read(ctx, func(tx *store.Tx) error {
		staff := p.Role != store.RoleCustomer
		rs, err := tx.ListReleases(ctx, staff && req.Msg.GetWithRemoved())
		if err != nil {
			return err
		}
		var until time.Time
		if !staff {
			if until, err = customerUpdatesUntil(ctx, tx, p.Company, now); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if !staff && !r.WithdrawnAt.IsZero() {
				continue
			}
			out.Releases = append(out.Releases, releaseInfo(r, staff || !r.PublishedAt.After(until)))
		}
		return nil
	})
	if err != nil {
		return nil, ra.a.fail("ListReleases", err)
	}
	return res(&out), nil
}

func (ra *releaseAPI) UpdateRelease(ctx context.Context, req *connect.Request[licmeshv1.UpdateReleaseRequest]) (*connect.Response[licmeshv1.UpdateReleaseResponse], error) {
	p, remote, err := who(ctx, actRelease)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	now := ra.s.clk.Now()
	var out store.Release
	err = ra.s.store.Tx(ctx, func(tx *store.Tx) error {
		r, err := tx.GetRelease(ctx, m.GetVersion())
		if err != nil {
			return err
		}
		pr := publishRequest{Version: r.Version, Channel: r.Channel, Notes: r.Notes, Changelog: r.Changelog, DocURL: r.DocURL, VideoURL: r.VideoURL,
			Artifacts: []spooledArtifact{{}}}
		if m.Notes != nil {
			pr.Notes = m.GetNotes()
		}
		if m.Changelog != nil {
			pr.Changelog = m.GetChangelog()
		}
		if m.DocUrl != nil {
			pr.DocURL = m.GetDocUrl()
		}
		if m.VideoUrl != nil {
			pr.VideoURL = m.GetVideoUrl()
		}
		if m.Channel != nil {
			pr.Channel = m.GetChannel()
		}
		if err := pr.validate(); err != nil {
			return err
		}
		if err := tx.SetReleaseNotes(ctx, r.Version, store.ReleaseNotes{Notes: pr.Notes, Changelog: pr.Changelog, DocURL: pr.DocURL, VideoURL: pr.VideoURL}); err != nil {
			return err
		}
		var changed []string
		if pr.Channel != r.Channel {
			if err := tx.SetReleaseChannel(ctx, r.Version, pr.Channel); err != nil {
				return err
			}
			if err := ra.s.withRepo(ctx, tx, func(repo *release.Repo) error { return repo.SetChannel(now, r.Version, pr.Channel) }); err != nil {
				return err
			}
			changed = append(changed, "channel "+pr.Channel)
		}
		for f, v := range map[string]*string{"notes": m.Notes, "changelog": m.Changelog, "doc_url": m.DocUrl, "video_url": m.VideoUrl} {
			if v != nil {
				changed = append(changed, f)
			}
		}
		if err := ra.s.auditRelease(ctx, tx, p, remote, "release.update", r.Version, strings.Join(changed, ", "), now); err != nil {
			return err
		}
		out, err = tx.GetRelease(ctx, r.Version)
		return err
	})
	if err != nil {
		return nil, ra.a.fail("UpdateRelease", err)
	}
	return res(&licmeshv1.UpdateReleaseResponse{Release: releaseInfo(out, true)}), nil
}

func (ra *releaseAPI) WithdrawRelease(ctx context.Context, req *connect.Request[licmeshv1.WithdrawReleaseRequest]) (*connect.Response[licmeshv1.WithdrawReleaseResponse], error) {
	p, remote, err := who(ctx, actRelease)
	if err != nil {
		return nil, err
	}
	r, err := ra.s.withdraw(ctx, p, remote, req.Msg.GetVersion(), req.Msg.GetReason())
	if err != nil {
		return nil, ra.a.fail("WithdrawRelease", err)
	}
	return res(&licmeshv1.WithdrawReleaseResponse{Release: releaseInfo(r, true)}), nil
}

func (ra *releaseAPI) GetReleaseRoot(ctx context.Context, _ *connect.Request[licmeshv1.GetReleaseRootRequest]) (*connect.Response[licmeshv1.GetReleaseRootResponse], error) {
	if _, _, err := who(ctx, actRead, actPortal, actReseller); err != nil {
		return nil, err
	}
	var out licmeshv1.GetReleaseRootResponse
	err := ra.s.store.Read(ctx, func(tx *store.Tx) error {
		st, err := ra.s.readRepo(ctx, tx)
		if err != nil {
			return err
		}
		out.Root, out.Version = st.Roots[len(st.Roots)-1], int64(len(st.Roots))
		return nil
	})
	if err != nil {
		return nil, ra.a.fail("GetReleaseRoot", err)
	}
	return res(&out), nil
}

// siteProof authenticates a site's signed proof for purpose and returns
// its cluster.
func (s *Server) siteProof(ctx context.Context, tx *store.Tx, raw []byte, purpose string) (license.ClusterID, error) {
	sg, err := upstream.ParseSigned(raw, upstream.MaxRequestBytes)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	claim, err := upstream.PeekProof(sg)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	_, pub, err := siteKey(ctx, tx, claim.ClusterID)
	if err != nil {
		return "", err
	}
	if _, err := upstream.OpenProof(sg, claim.ClusterID, pub, purpose, s.clk.Now(), proofSkew); err != nil {
		if errors.Is(err, upstream.ErrBadSignature) {
			return "", fmt.Errorf("%w: %w", ErrSiteKey, err)
		}
		return "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return claim.ClusterID, nil
}

// SiteReleases gives a site the signed metadata to verify, with the
// releases' notes for its people.
func (u *upstreamAPI) SiteReleases(ctx context.Context, req *connect.Request[licmeshv1.SiteReleasesRequest]) (*connect.Response[licmeshv1.SiteReleasesResponse], error) {
	var out licmeshv1.SiteReleasesResponse
	err := u.s.store.Read(ctx, func(tx *store.Tx) error {
		if _, err := u.s.siteProof(ctx, tx, req.Msg.GetProof(), purposeReleases); err != nil {
			return err
		}
		st, err := u.s.readRepo(ctx, tx)
		if err != nil {
			return err
		}
		from := max(req.Msg.GetRootVersion(), 0)
		if from < int64(len(st.Roots)) {
			out.Roots = st.Roots[from:]
		}
		out.Timestamp, out.Snapshot, out.Targets = st.Timestamp, st.Snapshot, st.Targets
		rs, err := tx.ListReleases(ctx, false)
		if err != nil {
			return err
		}
		for _, r := range rs {
			i := releaseInfo(r, true)
			i.Artifacts = nil // the signed targets say them
			out.Notes = append(out.Notes, i)
		}
		return nil
	})
	if err != nil {
		return nil, u.a.fail("SiteReleases", err)
	}
	return res(&out), nil
}

// mountReleases adds the plain HTTP routes: publishing (multipart upload)
// and artifact downloads.
func (s *Server) mountReleases(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/releases", s.uploadRelease)
	mux.HandleFunc("GET /v1/releases/artifacts/{version}/{file}", s.downloadArtifact)
	mux.HandleFunc("GET /v1/releases/bundle/{version}", s.downloadBundle)
}

// httpFail answers a plain HTTP request with the status err maps to and
// its message (never a secret), as JSON like Connect's.
func (s *Server) httpFail(w http.ResponseWriter, what string, err error) {
	ce := toConnect(err)
	code := connect.CodeOf(ce)
	status := map[connect.Code]int{
		connect.CodeInvalidArgument: http.StatusBadRequest, connect.CodeUnauthenticated: http.StatusUnauthorized,
		connect.CodePermissionDenied: http.StatusForbidden, connect.CodeNotFound: http.StatusNotFound,
		connect.CodeAlreadyExists: http.StatusConflict, connect.CodeAborted: http.StatusConflict,
		connect.CodeFailedPrecondition: http.StatusPreconditionFailed, connect.CodeResourceExhausted: http.StatusRequestEntityTooLarge,
	}[code]
	msg := err.Error()
	if status == 0 {
		status = http.StatusInternalServerError
		s.log.Error("hub: request failed", "what", what, "err", err)
		msg = "internal error"
	} else {
		var ce2 *connect.Error
		if errors.As(ce, &ce2) {
			msg = ce2.Message()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code.String(), msg})
}

// uploadRelease publishes a release from a multipart upload: the fields
// version, channel, notes, changelog, doc_url, video_url, notify and
// template, and one file part per artifact named
// <component>-<os>-<arch>. Parts stream to disk; nothing is kept if the
// release is refused.
func (s *Server) uploadRelease(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err == nil {
		err = p.require(actRelease)
	}
	if err != nil {
		s.httpFail(w, "upload release", err)
		return
	}
	// An upload of large artifacts outlasts the server's read timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(30 * time.Minute))
	_ = rc.SetWriteDeadline(time.Now().Add(31 * time.Minute))
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	pr, err := s.readUpload(r)
	if err != nil {
		for _, a := range pr.Artifacts {
			os.Remove(a.Path)
		}
		s.httpFail(w, "upload release", err)
		return
	}
	rec, err := s.publish(r.Context(), p, host, pr)
	if err != nil {
		s.httpFail(w, "upload release", err)
		return
	}
	b, err := protojson.Marshal(releaseInfo(rec, true))
	if err != nil {
		s.httpFail(w, "upload release", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}

// maxUploadParts bounds the parts of one upload.
const maxUploadParts = 64

func (s *Server) readUpload(r *http.Request) (publishRequest, error) {
	var pr publishRequest
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return pr, fmt.Errorf("%w: send multipart/form-data (fields and one file per artifact)", ErrInvalidArgument)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return pr, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	fields := map[string]*string{"version": &pr.Version, "channel": &pr.Channel, "notes": &pr.Notes, "changelog": &pr.Changelog,
		"doc_url": &pr.DocURL, "video_url": &pr.VideoURL, "notify": &pr.Notify, "template": &pr.Template}
	seen := map[string]bool{}
	notifyGiven := false
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return pr, fmt.Errorf("%w: the upload is cut or malformed: %w", ErrInvalidArgument, err)
		}
		if n >= maxUploadParts {
			return pr, fmt.Errorf("%w: more than %d parts", ErrInvalidArgument, maxUploadParts)
		}
		name := part.FormName()
		switch {
		case name == "artifact":
			fn := part.FileName()
			if seen[fn] {
				return pr, fmt.Errorf("%w: artifact %s given twice", ErrInvalidArgument, clipName(fn))
			}
			seen[fn] = true
			a, err := s.spoolArtifact(fn, part)
			if err != nil {
				return pr, err
			}
			pr.Artifacts = append(pr.Artifacts, a)
		case fields[name] != nil:
			notifyGiven = notifyGiven || name == "notify"
			b, err := io.ReadAll(io.LimitReader(part, 512<<10+1))
			if err != nil {
				return pr, fmt.Errorf("%w: field %s: %w", ErrInvalidArgument, name, err)
			}
			if len(b) > 512<<10 {
				return pr, fmt.Errorf("%w: field %s is larger than 512 KiB", ErrInvalidArgument, name)
			}
			*fields[name] = string(b)
		case name == "csrf":
		default:
			return pr, fmt.Errorf("%w: unknown field %q (version, channel, notes, changelog, doc_url, video_url, notify, template, artifact)", ErrInvalidArgument, clipName(name))
		}
	}
	// Without a notify field the announcement goes to the global list
	// (seed 001's default) when the hub can send mail; "none" sends none.
	if !notifyGiven && s.mail != nil {
		pr.Notify = "global"
	}
	if pr.Notify == "none" {
		pr.Notify = ""
	}
	return pr, nil
}

// mayDownload says whether r may take release rel: staff may take any;
// a customer whose licenses' updates cover the release's date, or a site
// (by a signed proof) whose licenses do, may take it unless it was
// withdrawn or removed.
func (s *Server) mayDownload(r *http.Request, tx *store.Tx, rel store.Release) error {
	ctx, now := r.Context(), s.clk.Now()
	if !rel.RemovedAt.IsZero() {
		return fmt.Errorf("%w: release %s was removed from the repository", store.ErrNotFound, rel.Version)
	}
	var until time.Time
	if h := r.Header.Get(ProofHeader); h != "" {
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			return fmt.Errorf("%w: %s is not base64", ErrInvalidArgument, ProofHeader)
		}
		cluster, err := s.siteProof(ctx, tx, raw, purposeDownload)
		if err != nil {
			return err
		}
		current, _, err := tx.ClusterLicenses(ctx, cluster)
		if err != nil {
			return err
		}
		until = updatesUntil(current, now)
	} else {
		p, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if p.may(actRead) || p.may(actRelease) {
			return nil
		}
		if err := p.require(actPortal); err != nil {
			return err
		}
		if until, err = customerUpdatesUntil(ctx, tx, p.Company, now); err != nil {
			return err
		}
	}
	if !rel.WithdrawnAt.IsZero() {
		return fmt.Errorf("%w: release %s was withdrawn: %s", ErrPermission, rel.Version, rel.WithdrawReason)
	}
	if rel.PublishedAt.After(until) {
		if until.IsZero() {
			return fmt.Errorf("%w: no current license covers updates", ErrPermission)
		}
		return fmt.Errorf("%w: release %s came out %s, after your licenses' updates ended (%s)", ErrPermission, rel.Version,
			rel.PublishedAt.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly))
	}
	return nil
}

// downloadBundle serves a release as an offline bundle: the repository's
// signed metadata and the release's artifacts, for a site with no
// internet ("meshctl update upload"). Same rules as an artifact.
func (s *Server) downloadBundle(w http.ResponseWriter, r *http.Request) {
	v := r.PathValue("version")
	var rel store.Release
	var st release.RepoState
	err := s.store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		if rel, err = tx.GetRelease(r.Context(), v); err != nil {
			return err
		}
		if err := s.mayDownload(r, tx, rel); err != nil {
			return err
		}
		st, err = s.readRepo(r.Context(), tx)
		return err
	})
	if err != nil {
		s.httpFail(w, "download bundle", err)
		return
	}
	var files []release.BundleFile
	for _, a := range rel.Artifacts {
		f, err := os.Open(s.artifactPath(a.SHA256))
		if err != nil {
			s.httpFail(w, "download bundle", fmt.Errorf("hub: artifact %s: %w", a.Name, err))
			return
		}
		defer f.Close()
		files = append(files, release.BundleFile{Name: a.Name, Size: a.Size, Data: f})
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="licmesh-`+rel.Version+`.bundle.tar"`)
	if err := release.WriteBundle(w, st, files); err != nil {
		s.log.Warn("hub: writing a bundle failed", "version", rel.Version, "err", err)
	}
}

// downloadArtifact serves one artifact to whoever may take it
// (mayDownload).
func (s *Server) downloadArtifact(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("version") + "/" + r.PathValue("file")
	var art store.ReleaseArtifact
	err := s.store.Read(r.Context(), func(tx *store.Tx) error {
		a, rel, err := tx.ReleaseArtifact(r.Context(), name)
		if err != nil {
			return err
		}
		art = a
		return s.mayDownload(r, tx, rel)
	})
	if err != nil {
		s.httpFail(w, "download artifact", err)
		return
	}
	f, err := os.Open(s.artifactPath(art.SHA256))
	if err != nil {
		s.httpFail(w, "download artifact", fmt.Errorf("hub: artifact %s: %w", name, err))
		return
	}
	defer f.Close()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("file")+`"`)
	w.Header().Set("X-Content-SHA256", art.SHA256)
	http.ServeContent(w, r, "", time.Time{}, f)
}
