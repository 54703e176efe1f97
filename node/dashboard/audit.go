package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// PermAudit is the permission the Audit page and its exports need.
const PermAudit = "audit"

const (
	// auditPageSize is the records shown per page.
	auditPageSize = 100
	// auditExportPage is the records fetched per call for an export, and
	// maxAuditExport the most an export holds (the masters keep no more).
	auditExportPage = 1000
	maxAuditExport  = 100_000
)

// AuditFuncs are the dashboard's way to the audit log.
type AuditFuncs struct {
	// List pages the audit log as the request selects it.
	List func(ctx context.Context, req *licmeshv1.ListAuditLogRequest) (*licmeshv1.ListAuditLogResponse, error)
}

type auditRow struct {
	Seq                               uint64
	At                                timeView
	Actor, Role, Addr, Via, Action    string
	Changes, Outcome, Code, RequestID string
	OK                                bool
}

type auditView struct {
	Rows []auditRow
	// The filters as given, for the form and the links.
	Actor, Action, Since, Until string
	// Older pages on; Query is the filters alone, for the exports.
	Older, Query    string
	Dropped         uint64
	Kept            uint32
	Filtered, Paged bool
}

// auditQuery reads the page's filters: actor, action, since and until as
// dates (YYYY-MM-DD, UTC; until takes the whole day), before as a Seq.
func auditQuery(q url.Values) (*licmeshv1.ListAuditLogRequest, error) {
	req := &licmeshv1.ListAuditLogRequest{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action"))}
	day := func(name string, add time.Duration) (int64, error) {
		s := strings.TrimSpace(q.Get(name))
		if s == "" {
			return 0, nil
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a date like 2026-12-01", name, s)
		}
		return t.Add(add).UnixMilli(), nil
	}
	var err error
	if req.SinceMs, err = day("since", 0); err != nil {
		return nil, err
	}
	if req.UntilMs, err = day("until", 24*time.Hour); err != nil {
		return nil, err
	}
	if req.UntilMs != 0 && req.UntilMs <= req.SinceMs {
		return nil, fmt.Errorf("until %s is before since %s", q.Get("until"), q.Get("since"))
	}
	if b := strings.TrimSpace(q.Get("before")); b != "" {
		if req.BeforeSeq, err = strconv.ParseUint(b, 10, 64); err != nil {
			return nil, fmt.Errorf("before %q is not a record number", b)
		}
	}
	return req, nil
}

func loadAudit(ctx context.Context, h *Handler, r *http.Request) (string, any, int, error) {
	q := r.URL.Query()
	v := auditView{Actor: q.Get("actor"), Action: q.Get("action"), Since: q.Get("since"), Until: q.Get("until")}
	if !can(ctx, PermAudit) {
		return "Audit log", v, http.StatusForbidden, fmt.Errorf("your role may not read the audit log; auditors and admins may")
	}
	req, err := auditQuery(q)
	if err != nil {
		return "Audit log", v, http.StatusBadRequest, err
	}
	req.Limit = auditPageSize
	resp, err := h.cfg.Audit.List(ctx, req)
	if err != nil {
		return "Audit log", v, http.StatusServiceUnavailable, err
	}
	filters := url.Values{}
	for _, k := range []string{"actor", "action", "since", "until"} {
		if s := strings.TrimSpace(q.Get(k)); s != "" {
			filters.Set(k, s)
		}
	}
	v.Query = filters.Encode()
	v.Filtered = v.Query != ""
	v.Paged = req.BeforeSeq != 0
	v.Dropped, v.Kept = resp.GetDropped(), resp.GetKept()
	for _, x := range resp.GetRecords() {
		v.Rows = append(v.Rows, auditRow{Seq: x.GetSeq(), At: h.timeAt(x.GetAtMs()), Actor: x.GetActor(), Role: x.GetRole(),
			Addr: x.GetAddr(), Via: x.GetVia(), Action: x.GetAction(), Changes: strings.Join(x.GetCommands(), ", "),
			Outcome: x.GetOutcome(), Code: x.GetCode(), RequestID: x.GetRequestId(), OK: x.GetCode() == ""})
	}
	if resp.GetMore() && len(v.Rows) > 0 {
		older := url.Values{}
		for k, vs := range filters {
			older[k] = vs
		}
		older.Set("before", strconv.FormatUint(v.Rows[len(v.Rows)-1].Seq, 10))
		v.Older = older.Encode()
	}
	return "Audit log", v, http.StatusOK, nil
}

// auditExport serves every record the filters select, as CSV or JSON, to
// signed-in principals who may read the log.
func (h *Handler) auditExport(asJSON bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.signedIn(w, r, false)
		if !ok {
			return
		}
		if !s.Principal.Can(PermAudit) {
			http.Error(w, fmt.Sprintf("dashboard: refused: %s (role %s) may not read the audit log", s.Principal.ID, s.Principal.Role), http.StatusForbidden)
			return
		}
		req, err := auditQuery(r.URL.Query())
		if err != nil {
			http.Error(w, "dashboard: "+err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(WithPrincipal(r.Context(), s.Principal), 4*sourceTimeout)
		defer cancel()
		all := &licmeshv1.ListAuditLogResponse{}
		req.Limit = auditExportPage
		for len(all.Records) < maxAuditExport {
			page, err := h.cfg.Audit.List(ctx, req)
			if err != nil {
				h.cfg.Logger.Warn("dashboard: audit export failed", "err", err)
				http.Error(w, "dashboard: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			all.Records = append(all.Records, page.GetRecords()...)
			all.Dropped, all.Kept = page.GetDropped(), page.GetKept()
			if !page.GetMore() || len(page.GetRecords()) == 0 {
				break
			}
			req.BeforeSeq = page.GetRecords()[len(page.GetRecords())-1].GetSeq()
		}
		var buf bytes.Buffer
		name, ctype := "audit.csv", "text/csv; charset=utf-8"
		if asJSON {
			name, ctype = "audit.json", "application/json"
			b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(all)
			if err != nil {
				http.Error(w, "dashboard: the export could not be made", http.StatusInternalServerError)
				return
			}
			buf.Write(b)
		} else {
			header := []string{"seq", "at", "actor", "role", "from", "via", "action", "changes", "outcome", "code", "request"}
			rows := make([][]string, 0, len(all.Records))
			for _, x := range all.Records {
				rows = append(rows, []string{strconv.FormatUint(x.GetSeq(), 10), time.UnixMilli(x.GetAtMs()).UTC().Format(time.RFC3339),
					x.GetActor(), x.GetRole(), x.GetAddr(), x.GetVia(), x.GetAction(), strings.Join(x.GetCommands(), " "),
					x.GetOutcome(), x.GetCode(), x.GetRequestId()})
			}
			if err := usagegrid.WriteCSV(&buf, header, rows); err != nil {
				http.Error(w, "dashboard: the export could not be made", http.StatusInternalServerError)
				return
			}
		}
		h.cfg.Logger.Info("dashboard: audit exported", "principal", s.Principal.ID, "records", len(all.Records), "json", asJSON)
		hd := w.Header()
		hd.Set("Content-Type", ctype)
		hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		hd.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
}
