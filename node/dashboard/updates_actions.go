package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// The Updates page's buttons and forms. Each answers with the whole page,
// its status read afresh, and the outcome or the refusal on it, as the
// Vendor hub page's forms do.

// updateRoutes registers the forms of the Updates page that its
// UpdateFuncs allow, each for principals with PermUpdates only.
func (h *Handler) updateRoutes() {
	f, p := h.cfg.Updates, h.cfg.Prefix+"/updates"
	if f.Status == nil {
		return
	}
	route := func(path string, next http.HandlerFunc) { h.mux.Handle("POST "+p+path, h.permitted(PermUpdates, next)) }
	if f.Check != nil {
		route("/check", h.updateAction("updates checked", checkTimeout, h.checkUpdates))
	}
	if f.Download != nil {
		route("/download", h.updateAction("release downloaded", longTimeout, h.downloadUpdate))
	}
	if f.Install != nil {
		route("/install", h.updateAction("rollout started", longTimeout, h.installUpdate))
	}
	if f.Rollback != nil {
		route("/rollback", h.updateAction("rollback started", longTimeout, h.rollbackUpdate))
	}
	if f.SetSettings != nil {
		route("/settings", h.updateAction("update settings saved", sourceTimeout, h.saveUpdateSettings))
	}
	if f.UploadBundle != nil {
		route("/bundle", h.uploadBundle)
	}
}

// updateAction runs one of the page's forms: act does the work with the
// form read and says what happened; a refusal is shown with status 422.
func (h *Handler) updateAction(what string, timeout time.Duration, act func(ctx context.Context, r *http.Request) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.postForm(w, r, "updates")
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		notice, err := act(ctx, r)
		if err != nil {
			h.cfg.Logger.Info("dashboard: "+what+" refused", "principal", s.Principal.ID, "err", err)
			h.renderUpdates(w, r, s, http.StatusUnprocessableEntity, func(v *updatesView) {
				v.Problem = err.Error()
				if r.PostForm.Has("check_every") { // the settings form: show it as posted
					v.Settings = postedSettings(r, v.Settings)
				}
			})
			return
		}
		h.cfg.Logger.Info("dashboard: "+what, "principal", s.Principal.ID)
		h.renderUpdates(w, r, s, http.StatusOK, func(v *updatesView) { v.Notice = notice })
	}
}

// renderUpdates answers a form with the whole page after edit has set the
// outcome.
func (h *Handler) renderUpdates(w http.ResponseWriter, r *http.Request, s session, status int, edit func(*updatesView)) {
	ctx, cancel := context.WithTimeout(WithPrincipal(r.Context(), s.Principal), sourceTimeout)
	defer cancel()
	title, data, lstatus, lerr := loadUpdates(ctx, h, r)
	v := data.(updatesView)
	edit(&v)
	d := h.data("updates", title, s)
	d.Data = v
	d.Alerts = h.licenseAlerts(ctx)
	if lerr != nil {
		h.cfg.Logger.Warn("dashboard: source failed", "page", "updates", "path", r.URL.Path, "err", lerr)
		d.Error = lerr.Error()
		if status == http.StatusOK {
			status = lstatus
		}
	}
	h.render(w, "updates", "layout", status, d)
}

func (h *Handler) checkUpdates(ctx context.Context, _ *http.Request) (string, error) {
	if err := h.cfg.Updates.Check(ctx); err != nil {
		return "", err
	}
	return "Checked the vendor's hub for releases.", nil
}

func formVersion(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.PostForm.Get("version"))
	if v == "" {
		return "", errors.New("the form names no release")
	}
	return v, nil
}

func (h *Handler) downloadUpdate(ctx context.Context, r *http.Request) (string, error) {
	v, err := formVersion(r)
	if err != nil {
		return "", err
	}
	if err := h.cfg.Updates.Download(ctx, v); err != nil {
		return "", err
	}
	return fmt.Sprintf("Release %s is downloaded: install it when you are ready.", v), nil
}

func (h *Handler) installUpdate(ctx context.Context, r *http.Request) (string, error) {
	v, err := formVersion(r)
	if err != nil {
		return "", err
	}
	if err := h.cfg.Updates.Install(ctx, v); err != nil {
		return "", err
	}
	return fmt.Sprintf("Installing release %s: the rollout's progress shows below.", v), nil
}

func (h *Handler) rollbackUpdate(ctx context.Context, _ *http.Request) (string, error) {
	if err := h.cfg.Updates.Rollback(ctx); err != nil {
		return "", err
	}
	return "Rolling back: the progress shows below.", nil
}

// saveUpdateSettings saves the form's settings, keeping the rollout plan
// the site has (the page does not show it).
func (h *Handler) saveUpdateSettings(ctx context.Context, r *http.Request) (string, error) {
	f := r.PostForm
	every, err := parseEvery(f.Get("check_every"))
	if err != nil {
		return "", err
	}
	st, err := h.cfg.Updates.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("could not read the settings to change: %w", err)
	}
	set := &licmeshv1.UpdateSettings{AutoDownload: f.Get("auto_download") != "", AutoInstall: f.Get("auto_install") != "",
		Channel: strings.TrimSpace(f.Get("channel")), CheckEveryMs: every.Milliseconds(), Plan: st.GetSettings().GetPlan()}
	if err := h.cfg.Updates.SetSettings(ctx, set); err != nil {
		return "", err
	}
	return "Update settings saved.", nil
}

// postedSettings is the settings form as posted, to show again with its
// refusal.
func postedSettings(r *http.Request, was settingsForm) settingsForm {
	f := r.PostForm
	was.AutoDownload, was.AutoInstall = f.Get("auto_download") != "", f.Get("auto_install") != ""
	was.Channel, was.Every = f.Get("channel"), f.Get("check_every")
	return was
}

// uploadBundle streams a posted offline bundle into UpdateFuncs.UploadBundle
// without keeping it: the form's csrf field must come before its bundle
// file, as the page's form puts it.
func (h *Handler) uploadBundle(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBundleUploadBytes)
	s, err := h.readSession(r)
	if err != nil {
		h.endSession(w)
		http.Redirect(w, r, h.cfg.Prefix+"/login", http.StatusSeeOther)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "dashboard: the bundle form could not be read: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !h.keys.checkCSRF("session", s.Nonce, readCSRFPart(mr)) {
		http.Error(w, "dashboard: refused: the form's CSRF token is missing or wrong; reload the page and try again", http.StatusForbidden)
		return
	}
	refuse := func(problem string) {
		h.renderUpdates(w, r, s, http.StatusUnprocessableEntity, func(v *updatesView) { v.Problem = problem })
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "bundle" || part.FileName() == "" {
		refuse("Choose the offline bundle to upload.")
		return
	}
	defer part.Close()
	ctx, cancel := context.WithTimeout(r.Context(), longTimeout)
	defer cancel()
	got, err := h.cfg.Updates.UploadBundle(ctx, part)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			err = fmt.Errorf("the bundle is larger than %d MiB", maxBundleUploadBytes>>20)
		}
		h.cfg.Logger.Info("dashboard: bundle refused", "principal", s.Principal.ID, "file", part.FileName(), "err", err)
		refuse(fmt.Sprintf("The bundle %s was refused: %v", part.FileName(), err))
		return
	}
	h.cfg.Logger.Info("dashboard: bundle imported", "principal", s.Principal.ID, "file", part.FileName())
	h.renderUpdates(w, r, s, http.StatusOK, func(v *updatesView) {
		v.Notice = fmt.Sprintf("The bundle %s is verified and imported: %s.", part.FileName(), got)
	})
}

// readCSRFPart reads the form's first part, which must be its csrf field.
func readCSRFPart(mr *multipart.Reader) string {
	p, err := mr.NextPart()
	if err != nil || p.FormName() != "csrf" {
		return ""
	}
	defer p.Close()
	b, err := io.ReadAll(io.LimitReader(p, 256))
	if err != nil {
		return ""
	}
	return string(b)
}
