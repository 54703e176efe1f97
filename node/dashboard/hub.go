package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// The Vendor hub page (seed 001's activation): where the cluster stands
// with its vendor's hub, and the forms that activate it with an API key
// (step 1 lists the key's companies, step 2 activates for the one picked),
// start a trial with an e-mail address, or check its licenses at once.
//
// The forms sit in dialogs that open without script: the buttons link to
// #activate and #trial, which CSS shows as the :target, and the answer to
// one of their POSTs renders its dialog already open. The API key goes from
// step 1 to step 2 only in a hidden field of step 2's form (every page is
// sent with Cache-Control: no-store); it is never logged, and neither a
// refused step 1 nor any later answer carries it.

const (
	// maxHubFormBytes bounds a posted hub form; a pasted hub CA is its
	// largest part, and the master takes at most 64 KiB of it.
	maxHubFormBytes = 128 << 10
	// hubTimeout bounds one action: the master's call to the hub and the
	// commit of what it answered.
	hubTimeout = 45 * time.Second
	// hubTitle is the page's title.
	hubTitle = "Vendor hub"
)

// hubView is the Vendor hub page: the live status, and outside it the
// actions, so polling never wipes a half-filled dialog.
type hubView struct {
	// Polls says the status refreshes itself (HubFuncs.Status is set).
	Polls bool
	// Status is nil without HubFuncs.Status or when it failed.
	Status   *hubStatus
	Activate activateForm
	Trial    trialForm
	// CanCheck shows the "Check licenses now" button.
	CanCheck bool
	Notice   string // the outcome of the last action
	Problem  string // a refused license check, verbatim
}

// hubStatus is GetUpstreamResponse in plain words.
type hubStatus struct {
	Activated   bool
	HubURL      string
	Company     string
	ActivatedAt timeView
	Sealed      uint64
	Acked       uint64
	AckedAt     timeView
	AckedHow    string // "online", "by an imported receipt"
	Waiting     string
	// Leader names the master that runs the sync when this one does not:
	// only the leader knows the sync's last success, error and next
	// attempt.
	Leader      string
	LastSync    timeView
	NextAttempt timeView
	LastError   string
	LastErrorAt timeView
	// Failing says the last error came after the last successful sync.
	Failing      bool
	LastCheck    timeView
	CheckSummary string
	CheckError   string
}

// activateForm is the activation dialog's state.
type activateForm struct {
	Enabled bool
	Open    bool // rendered open: the answer to one of its POSTs
	Step2   bool
	HubURL  string
	HubCA   string
	// APIKey is set only in step 2, whose form carries it in a hidden
	// field.
	APIKey    string
	Companies []companyChoice
	Problem   string // the master's refusal, verbatim
}

type companyChoice struct {
	ID       string
	Name     string
	Products string
	Checked  bool
}

// trialForm is the trial dialog's state.
type trialForm struct {
	Enabled bool
	Open    bool
	HubURL  string
	HubCA   string
	Email   string
	Company string
	Name    string
	Problem string
}

func loadHub(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	f := h.cfg.Hub
	v := hubView{
		Polls:    f.Status != nil,
		Activate: activateForm{Enabled: f.canActivate() && can(ctx, PermLicenses)},
		Trial:    trialForm{Enabled: f.Trial != nil && can(ctx, PermLicenses)},
		CanCheck: f.CheckNow != nil && can(ctx, PermLicenses),
	}
	if f.Status == nil {
		return hubTitle, v, http.StatusOK, nil
	}
	st, err := f.Status(ctx)
	if err != nil {
		return hubTitle, v, http.StatusServiceUnavailable, fmt.Errorf("could not load the cluster's link with its hub: %w", err)
	}
	v.Status = h.hubStatus(ctx, st)
	v.Activate.HubURL, v.Trial.HubURL = st.GetHubUrl(), st.GetHubUrl()
	v.CanCheck = v.CanCheck && st.GetActivated()
	return hubTitle, v, http.StatusOK, nil
}

func (h *Handler) hubStatus(ctx context.Context, st *licmeshv1.GetUpstreamResponse) *hubStatus {
	s := &hubStatus{
		Activated:    st.GetActivated(),
		HubURL:       st.GetHubUrl(),
		Company:      companyName(st.GetCompanyName(), st.GetCompanyId()),
		ActivatedAt:  h.timeAt(st.GetActivatedAtMs()),
		Sealed:       st.GetHeadSeq(),
		Acked:        st.GetAckedSeq(),
		AckedAt:      h.timeAt(st.GetAckedAtMs()),
		AckedHow:     ackedHow(st.GetAckedVia()),
		Waiting:      waiting(st.GetOutbox(), st.GetOutboxBytes(), st.GetDirty()),
		LastSync:     h.timeOr(st.GetLastSyncMs(), "not yet"),
		NextAttempt:  h.timeOr(st.GetNextAttemptMs(), "not planned"),
		LastError:    st.GetLastError(),
		LastErrorAt:  h.timeAt(st.GetLastErrorMs()),
		Failing:      st.GetLastError() != "" && st.GetLastErrorMs() >= st.GetLastSyncMs(),
		LastCheck:    h.timeOr(st.GetLastCheckMs(), "not yet"),
		CheckSummary: st.GetLastCheckSummary(),
		CheckError:   st.GetLastCheckError(),
	}
	// A follower reports no sync state; say where it is rather than show
	// "not yet". Without the cluster status the page shows what it has.
	if cs, err := h.cfg.Source.Status(ctx); err == nil && !strings.EqualFold(cs.GetState(), "leader") {
		switch {
		case cs.GetLeaderId() == "":
			s.Leader = "none: no master leads the cluster now, so nothing is sent to the hub until one does"
		case cs.GetLeaderApiAddr() != "":
			s.Leader = cs.GetLeaderId() + " (" + cs.GetLeaderApiAddr() + ")"
		default:
			s.Leader = cs.GetLeaderId()
		}
	}
	return s
}

// timeOr is timeAt with word for "never".
func (h *Handler) timeOr(ms int64, word string) timeView {
	if ms <= 0 {
		return timeView{Relative: word}
	}
	return h.timeAt(ms)
}

func companyName(name, id string) string {
	switch {
	case name == "":
		return id
	case id == "" || id == name:
		return name
	}
	return name + " (" + id + ")"
}

func ackedHow(via string) string {
	switch via {
	case "receipt":
		return "by an imported receipt"
	case "":
		return ""
	}
	return via
}

// waiting says what the hub has yet to get: sealed batches it has not
// acknowledged, and periods whose usage changed since the last batch.
func waiting(outbox uint32, size uint64, dirty uint32) string {
	var parts []string
	if outbox > 0 {
		parts = append(parts, fmt.Sprintf("%s (%s) not yet acknowledged", count(int(outbox), "batch", "batches"), byteSize(size)))
	}
	if dirty > 0 {
		parts = append(parts, fmt.Sprintf("usage changed in %s since the last batch", count(int(dirty), "period", "periods")))
	}
	if len(parts) == 0 {
		return "Nothing: the hub has every batch."
	}
	s := strings.Join(parts, "; ") + "."
	return strings.ToUpper(s[:1]) + s[1:]
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func byteSize(n uint64) string {
	switch {
	case n < 1<<10:
		return count(int(n), "byte", "bytes")
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// hubForm reads a posted hub form: it bounds the body and needs a session
// and its CSRF token. When one fails it answers the browser itself and
// reports false.
func (h *Handler) hubForm(w http.ResponseWriter, r *http.Request) (session, bool) {
	return h.postForm(w, r, "hub")
}

// postForm reads a signed-in browser's form (what names it in errors) and
// checks its CSRF token; it answers the request itself and reports false
// when the form may not go on.
func (h *Handler) postForm(w http.ResponseWriter, r *http.Request, what string) (session, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxHubFormBytes)
	s, err := h.readSession(r)
	if err != nil {
		h.endSession(w)
		http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
		return session{}, false
	}
	if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("dashboard: the %s form is larger than %d KiB", what, maxHubFormBytes>>10), http.StatusRequestEntityTooLarge)
			return session{}, false
		}
		http.Error(w, "dashboard: the "+what+" form could not be read", http.StatusBadRequest)
		return session{}, false
	}
	if !h.keys.checkCSRF("session", s.Nonce, r.PostForm.Get("csrf")) {
		http.Error(w, "dashboard: refused: the form's CSRF token is missing or wrong; reload the page and try again", http.StatusForbidden)
		return session{}, false
	}
	return s, true
}

// hubTargetOf is the hub a form names. A pasted PEM arrives with the
// browser's CRLF line ends; it is kept with LF ones.
func hubTargetOf(form url.Values) *licmeshv1.HubTarget {
	ca := strings.ReplaceAll(form.Get("hub_ca"), "\r\n", "\n")
	return &licmeshv1.HubTarget{Url: strings.TrimSpace(form.Get("hub_url")), CaPem: strings.TrimSpace(ca)}
}

// renderHub answers a hub form with the whole page, its status read
// afresh, after edit has set the outcome.
func (h *Handler) renderHub(w http.ResponseWriter, r *http.Request, s session, status int, edit func(*hubView)) {
	ctx, cancel := context.WithTimeout(WithPrincipal(r.Context(), s.Principal), sourceTimeout)
	defer cancel()
	title, data, lstatus, lerr := loadHub(ctx, h, r)
	v := data.(hubView)
	edit(&v)
	d := h.data("hub", title, s)
	d.Data = v
	d.Alerts = h.licenseAlerts(ctx)
	if lerr != nil {
		h.cfg.Logger.Warn("dashboard: source failed", "page", "hub", "path", r.URL.Path, "err", lerr)
		d.Error = lerr.Error()
		if status == http.StatusOK {
			status = lstatus
		}
	}
	h.render(w, "hub", "layout", status, d)
}

// hubCompanies is the activation's step 1: it lists the companies the
// API key may activate for and answers with step 2, or with step 1 and
// the refusal (without the key).
func (h *Handler) hubCompanies(w http.ResponseWriter, r *http.Request) {
	s, ok := h.hubForm(w, r)
	if !ok {
		return
	}
	hub := hubTargetOf(r.PostForm)
	key := strings.TrimSpace(r.PostForm.Get("api_key"))
	form := activateForm{Enabled: true, Open: true, HubURL: hub.GetUrl(), HubCA: hub.GetCaPem()}
	switch {
	case hub.GetUrl() == "":
		form.Problem = "Enter the hub's address, like https://hub.example.com."
	case key == "":
		form.Problem = "Enter an API key of your account at the hub."
	default:
		form.Problem = h.listCompanies(r.Context(), s, hub, key, "", &form)
	}
	status := http.StatusOK
	if form.Problem != "" {
		status = http.StatusUnprocessableEntity
	}
	h.renderHub(w, r, s, status, func(v *hubView) { v.Activate = form })
}

// listCompanies turns form into step 2 with the companies key may
// activate for, pick (or the only one) chosen, or returns the problem to
// show instead and leaves form alone.
func (h *Handler) listCompanies(ctx context.Context, s session, hub *licmeshv1.HubTarget, key, pick string, form *activateForm) string {
	ctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	resp, err := h.cfg.Hub.Companies(ctx, &licmeshv1.ListHubCompaniesRequest{Hub: hub, ApiKey: key})
	if err != nil {
		h.cfg.Logger.Info("dashboard: hub companies refused", "principal", s.Principal.ID, "hub_url", hub.GetUrl(), "err", err)
		return err.Error()
	}
	cs := resp.GetCompanies()
	if len(cs) == 0 {
		return "The hub lists no company this API key's account may activate for; ask your vendor to add the account to your company."
	}
	form.Step2, form.APIKey, form.Companies = true, key, nil
	for _, c := range cs {
		form.Companies = append(form.Companies, companyChoice{
			ID:       c.GetId(),
			Name:     cmp.Or(c.GetName(), c.GetId()),
			Products: strings.Join(c.GetProducts(), ", "),
			Checked:  len(cs) == 1 || c.GetId() == pick,
		})
	}
	slices.SortFunc(form.Companies, func(a, b companyChoice) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	return ""
}

// hubActivate is the activation's step 2. A refusal is shown verbatim
// with step 2 kept (the companies listed again), or with step 1 when the
// hub no longer lists them.
func (h *Handler) hubActivate(w http.ResponseWriter, r *http.Request) {
	s, ok := h.hubForm(w, r)
	if !ok {
		return
	}
	hub := hubTargetOf(r.PostForm)
	key := strings.TrimSpace(r.PostForm.Get("api_key"))
	company := strings.TrimSpace(r.PostForm.Get("company"))
	form := activateForm{Enabled: true, Open: true, HubURL: hub.GetUrl(), HubCA: hub.GetCaPem()}
	refuse := func(problem string) {
		form.Problem = problem
		h.renderHub(w, r, s, http.StatusUnprocessableEntity, func(v *hubView) { v.Activate = form })
	}
	if hub.GetUrl() == "" || key == "" {
		refuse("The form lost the hub's address or the API key; enter them again.")
		return
	}
	if company == "" {
		refuse(cmp.Or(h.listCompanies(r.Context(), s, hub, key, "", &form), "Choose the company to activate the cluster for."))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hubTimeout)
	defer cancel()
	resp, err := h.cfg.Hub.Activate(ctx, &licmeshv1.ActivateClusterRequest{Hub: hub, ApiKey: key, CompanyId: company})
	if err != nil {
		h.cfg.Logger.Info("dashboard: activation refused", "principal", s.Principal.ID, "hub_url", hub.GetUrl(), "company_id", company, "err", err)
		h.listCompanies(r.Context(), s, hub, key, company, &form)
		refuse(err.Error())
		return
	}
	h.cfg.Logger.Info("dashboard: cluster activated", "principal", s.Principal.ID, "hub_url", hub.GetUrl(),
		"company_id", resp.GetCompanyId(), "licenses", len(resp.GetLicenseIds()))
	in := "none yet"
	if ids := resp.GetLicenseIds(); len(ids) > 0 {
		in = strings.Join(ids, ", ")
	}
	notice := fmt.Sprintf("Activated for %s; licenses in force: %s.", cmp.Or(resp.GetCompanyName(), resp.GetCompanyId(), company), in)
	h.renderHub(w, r, s, http.StatusOK, func(v *hubView) { v.Notice = notice })
}

// hubTrial starts a trial. An address that already has an account is not
// a refusal: the hub mailed it, and the page says so.
func (h *Handler) hubTrial(w http.ResponseWriter, r *http.Request) {
	s, ok := h.hubForm(w, r)
	if !ok {
		return
	}
	hub := hubTargetOf(r.PostForm)
	f := r.PostForm
	form := trialForm{Enabled: true, Open: true, HubURL: hub.GetUrl(), HubCA: hub.GetCaPem(),
		Email: strings.TrimSpace(f.Get("email")), Company: strings.TrimSpace(f.Get("company")), Name: strings.TrimSpace(f.Get("name"))}
	refuse := func(problem string) {
		form.Problem = problem
		h.renderHub(w, r, s, http.StatusUnprocessableEntity, func(v *hubView) { v.Trial = form })
	}
	switch {
	case hub.GetUrl() == "":
		refuse("Enter the hub's address, like https://hub.example.com.")
		return
	case form.Email == "":
		refuse("Enter your e-mail address: the hub sends the trial's account to it.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hubTimeout)
	defer cancel()
	resp, err := h.cfg.Hub.Trial(ctx, &licmeshv1.StartClusterTrialRequest{Hub: hub, Email: form.Email, Company: form.Company, Name: form.Name})
	if err != nil {
		h.cfg.Logger.Info("dashboard: trial refused", "principal", s.Principal.ID, "hub_url", hub.GetUrl(), "err", err)
		refuse(err.Error())
		return
	}
	var notice string
	if id := resp.GetLicenseId(); id != "" {
		h.cfg.Logger.Info("dashboard: trial started", "principal", s.Principal.ID, "hub_url", hub.GetUrl(), "company_id", resp.GetCompanyId(), "license_id", id)
		notice = fmt.Sprintf("Trial started: license %s is in force, and the cluster is activated with %s.", id, hub.GetUrl())
	} else {
		h.cfg.Logger.Info("dashboard: trial for an existing account", "principal", s.Principal.ID, "hub_url", hub.GetUrl())
		notice = fmt.Sprintf("%s already has an account at the hub, so no trial was started: the hub has e-mailed that address instead. "+
			"Sign in there, make an API key and activate the cluster with it.", form.Email)
	}
	h.renderHub(w, r, s, http.StatusOK, func(v *hubView) { v.Notice = notice })
}

// hubCheck asks the hub for the cluster's licenses at once.
func (h *Handler) hubCheck(w http.ResponseWriter, r *http.Request) {
	s, ok := h.hubForm(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hubTimeout)
	defer cancel()
	resp, err := h.cfg.Hub.CheckNow(ctx)
	if err != nil {
		h.cfg.Logger.Info("dashboard: license check failed", "principal", s.Principal.ID, "err", err)
		h.renderHub(w, r, s, http.StatusUnprocessableEntity, func(v *hubView) { v.Problem = err.Error() })
		return
	}
	notice := "Licenses checked with the hub: " + cmp.Or(resp.GetSummary(), "no change") + "."
	h.renderHub(w, r, s, http.StatusOK, func(v *hubView) { v.Notice = notice })
}
