package hub

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/release"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The releases page (seed 001): "Update Information" for a customer,
// whose licenses' updates decide what it may download, and "Update
// Management" for the release managers, who publish, edit and withdraw.
// It reads and changes through ReleaseService like the other pages
// through HubService. Publishing is the one form that does not post to
// the pages: its artifacts go to the upload route (POST /v1/releases) as
// they do from meshctl, sent by static/releases.js with the session's
// CSRF token as a header, because the hub streams a multipart body to
// disk and so cannot read a token from inside it.

// releasesTitle is the page's name for the two audiences.
func releasesTitle(p *principal) string {
	if p.may(actPortal) {
		return "Updates"
	}
	return "Releases"
}

// releaseEdit is the edit form of one release, as stored or as typed.
type releaseEdit struct {
	Channel, Notes, Changelog, DocURL, VideoURL string
}

// releaseDownload is one download button.
type releaseDownload struct {
	Label, Href, Size string
}

// releaseRow is one release as the page shows it.
type releaseRow struct {
	Version, Channel, Published, PublishedBy string
	Notes                                    []string // paragraphs
	Changelog, DocURL, VideoURL              string
	// State is "" (available), "withdrawn" or "removed"; staff only see
	// the last two.
	State, StateAt, Reason string
	// Downloads are the artifacts and the offline bundle, when the viewer
	// may take them; otherwise EndedOn says why not (customers).
	Downloads []releaseDownload
	EndedOn   string
	NoLicense bool
	// Edit and Withdraw are drawn for release managers; EditForm and
	// WithdrawForm name their forms' problems.
	Editable, Withdrawable bool
	Edit                   releaseEdit
	EditForm, WithdrawForm string
	WithdrawReason         string
}

// publishOptions are the publish form's choices.
type publishOptions struct {
	Channels, Templates []string
	Lists               []string // mailing lists, "global" last
	Mail                bool     // announcements need the mail server
	Upload              string   // the upload route
}

type releasesView struct {
	Customer  bool
	Staff     bool // sees withdrawn and removed releases
	Manage    bool
	Download  bool // may download at all (not a reseller)
	Until     string
	Published string // the release just published, for the notice
	Releases  []releaseRow
	Publish   publishOptions
}

func (pg *pages) releaseService() *releaseAPI { return &releaseAPI{s: pg.s, a: pg.api} }

func (pg *pages) releasesPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showReleases(w, r, p, http.StatusOK, nil, "", nil)
}

// showReleases draws the page; after a refused edit or withdrawal, typed
// holds what was sent for version, to show it again.
func (pg *pages) showReleases(w http.ResponseWriter, r *http.Request, p *principal, status int, prob *problem, version string, typed *releaseEdit) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.releaseService().ListReleases(ctx, req(&licmeshv1.ListReleasesRequest{WithRemoved: true}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	now := pg.s.clk.Now()
	v := releasesView{Customer: p.may(actPortal), Manage: p.may(actRelease)}
	v.Staff = !v.Customer
	v.Download = v.Customer || p.may(actRead) || p.may(actRelease) // as mayDownload
	var until time.Time
	if v.Customer {
		err := pg.s.store.Read(ctx, func(tx *store.Tx) error {
			var err error
			until, err = customerUpdatesUntil(ctx, tx, p.Company, now)
			return err
		})
		if err != nil {
			pg.failed(w, r, p, toConnect(err))
			return
		}
		if !until.IsZero() {
			v.Until = until.UTC().Format(time.DateOnly)
		}
	}
	infos := slices.Clone(res.Msg.GetReleases())
	slices.SortStableFunc(infos, func(a, b *licmeshv1.ReleaseInfo) int { return cmp.Compare(b.GetPublishedAtMs(), a.GetPublishedAtMs()) })
	for _, in := range infos {
		row := releaseRowOf(in, v)
		if v.Customer && !in.GetDownloadable() {
			row.Downloads, row.EndedOn, row.NoLicense = nil, v.Until, until.IsZero()
		}
		if in.GetVersion() == version && typed != nil {
			row.Edit = *typed
		}
		if version == in.GetVersion() && prob != nil && prob.Form == row.WithdrawForm && r.PostForm != nil {
			row.WithdrawReason = r.PostForm.Get("reason")
		}
		v.Releases = append(v.Releases, row)
	}
	if pub := r.URL.Query().Get("published"); pub != "" && slices.ContainsFunc(infos, func(i *licmeshv1.ReleaseInfo) bool { return i.GetVersion() == pub }) {
		v.Published = pub
	}
	if v.Manage {
		v.Publish = publishOptions{Channels: []string{release.ChannelStable, release.ChannelBeta}, Templates: releaseTemplates,
			Mail: pg.s.mail != nil, Upload: "/v1/releases"}
		for name := range pg.s.cfg.ReleaseLists {
			v.Publish.Lists = append(v.Publish.Lists, name)
		}
		slices.Sort(v.Publish.Lists)
		if !slices.Contains(v.Publish.Lists, "global") {
			v.Publish.Lists = append(v.Publish.Lists, "global")
		}
	}
	d := pg.data(w, r, p, "releases", releasesTitle(p))
	d.Problem, d.Data = prob, v
	if v.Published != "" && d.Flash == "" {
		d.Flash = "Release " + v.Published + " published."
	}
	pg.render(w, "releases", status, d)
}

// releaseRowOf lays out one release for the viewer of v.
func releaseRowOf(in *licmeshv1.ReleaseInfo, v releasesView) releaseRow {
	ver := in.GetVersion()
	row := releaseRow{Version: ver, Channel: in.GetChannel(), Published: fromMS(in.GetPublishedAtMs()).Format(time.DateOnly),
		PublishedBy: in.GetPublishedBy(), Changelog: in.GetChangelog(), DocURL: in.GetDocUrl(), VideoURL: in.GetVideoUrl(),
		Edit:     releaseEdit{Channel: in.GetChannel(), Notes: in.GetNotes(), Changelog: in.GetChangelog(), DocURL: in.GetDocUrl(), VideoURL: in.GetVideoUrl()},
		EditForm: "edit:" + ver, WithdrawForm: "withdraw:" + ver}
	for _, para := range strings.Split(strings.TrimSpace(in.GetNotes()), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			row.Notes = append(row.Notes, para)
		}
	}
	switch {
	case in.GetRemovedAtMs() != 0:
		row.State, row.StateAt = "removed", msText(in.GetRemovedAtMs())
	case in.GetWithdrawnAtMs() != 0:
		row.State, row.StateAt, row.Reason = "withdrawn", msText(in.GetWithdrawnAtMs()), in.GetWithdrawReason()
	}
	row.Editable = v.Manage && row.State != "removed"
	row.Withdrawable = v.Manage && row.State == ""
	if !v.Download || row.State == "removed" {
		return row
	}
	for _, a := range in.GetArtifacts() {
		file := a.GetComponent() + "-" + a.GetOs() + "-" + a.GetArch()
		row.Downloads = append(row.Downloads, releaseDownload{Label: file, Size: byteSize(a.GetSize()),
			Href: "/v1/releases/artifacts/" + url.PathEscape(ver) + "/" + url.PathEscape(file)})
	}
	if len(row.Downloads) > 0 {
		row.Downloads = append(row.Downloads, releaseDownload{Label: "Offline bundle", Href: "/v1/releases/bundle/" + url.PathEscape(ver)})
	}
	return row
}

// byteSize is a size for people: 1.5 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

// formText reads a textarea: browsers send CRLF line ends.
func formText(r *http.Request, field string) string {
	return strings.ReplaceAll(r.PostForm.Get(field), "\r\n", "\n")
}

// editRelease changes a release's notes, changelog, links or channel
// through UpdateRelease, sending only what changed, so that its audit
// record names just that.
func (pg *pages) editRelease(w http.ResponseWriter, r *http.Request, p *principal) {
	version := r.PathValue("version")
	typed := releaseEdit{Channel: strings.TrimSpace(r.PostForm.Get("channel")), Notes: formText(r, "notes"), Changelog: formText(r, "changelog"),
		DocURL: strings.TrimSpace(r.PostForm.Get("doc_url")), VideoURL: strings.TrimSpace(r.PostForm.Get("video_url"))}
	ctx, cancel := callCtx(r)
	defer cancel()
	rs := pg.releaseService()
	list, err := rs.ListReleases(ctx, req(&licmeshv1.ListReleasesRequest{WithRemoved: true}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	i := slices.IndexFunc(list.Msg.GetReleases(), func(in *licmeshv1.ReleaseInfo) bool { return in.GetVersion() == version })
	if i < 0 {
		pg.refuse(w, r, p, http.StatusNotFound, fmt.Sprintf("There is no release %s.", version))
		return
	}
	cur := list.Msg.GetReleases()[i]
	m := &licmeshv1.UpdateReleaseRequest{Version: version}
	var changed []string
	for _, f := range []struct {
		name     string
		was, now string
		set      **string
	}{
		{"channel", cur.GetChannel(), typed.Channel, &m.Channel},
		{"notes", cur.GetNotes(), typed.Notes, &m.Notes},
		{"changelog", cur.GetChangelog(), typed.Changelog, &m.Changelog},
		{"documentation link", cur.GetDocUrl(), typed.DocURL, &m.DocUrl},
		{"video link", cur.GetVideoUrl(), typed.VideoURL, &m.VideoUrl},
	} {
		if f.now != f.was {
			*f.set = &f.now
			changed = append(changed, f.name)
		}
	}
	if len(changed) == 0 {
		pg.done(w, r, uiPrefix+"/releases", "Release "+version+": nothing changed.")
		return
	}
	if _, err := rs.UpdateRelease(ctx, req(m)); err != nil {
		if status, ok := inputProblem(err); ok {
			msg := message(err)
			pg.showReleases(w, r, p, status, &problem{Form: "edit:" + version, Field: badReleaseField(msg, typed), Message: msg}, version, &typed)
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/releases", fmt.Sprintf("Release %s: %s changed.", version, strings.Join(changed, ", ")))
}

// badReleaseField is the edit form's field msg (validate's refusal) is
// about.
func badReleaseField(msg string, typed releaseEdit) string {
	switch {
	case strings.Contains(msg, "channel"):
		return "channel"
	case strings.Contains(msg, "link"):
		if typed.DocURL != "" && strings.Contains(msg, clipName(typed.DocURL)) {
			return "doc_url"
		}
		return "video_url"
	case strings.Contains(msg, "changelog"):
		return "changelog"
	}
	return "notes"
}

// withdrawRelease withdraws a release (signed: sites running it go back)
// through WithdrawRelease; the reason is required.
func (pg *pages) withdrawRelease(w http.ResponseWriter, r *http.Request, p *principal) {
	version := r.PathValue("version")
	ctx, cancel := callCtx(r)
	defer cancel()
	_, err := pg.releaseService().WithdrawRelease(ctx, req(&licmeshv1.WithdrawReleaseRequest{Version: version, Reason: strings.TrimSpace(r.PostForm.Get("reason"))}))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			pg.showReleases(w, r, p, status, &problem{Form: "withdraw:" + version, Field: "reason", Message: message(err)}, version, nil)
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/releases", "Release "+version+" withdrawn: sites running it go back to the release before.")
}
