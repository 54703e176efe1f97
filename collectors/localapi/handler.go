package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/entitlement"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
)

// Service is what the API serves; *agent.Agent implements it.
type Service interface {
	Acquire(ctx context.Context, pool, holder string) (leasebook.Lease, error)
	Borrow(ctx context.Context, pool, holder string, d time.Duration) (leasebook.Lease, error)
	Release(ctx context.Context, id lease.ID) (leasebook.Lease, bool, error)
	Leases() []leasebook.Lease
	Lease(id lease.ID) (leasebook.Lease, bool)
	Verify(token string) agent.Verification
	Status() agent.Status
	Ready() <-chan struct{}
	Entitlements() (agent.Entitlements, error)
	Notifications() (agent.Notifications, error)
	CheckFeature(feature, sku string) (entitlement.Check, error)
	ConsumeCredits(ctx context.Context, unit string, amount int64) (agent.CreditResult, error)
}

var _ Service = (*agent.Agent)(nil)

// Limits of the API.
const (
	// MaxBodyBytes bounds a request body; the largest legitimate one is a
	// verify request with a 1 KiB token.
	MaxBodyBytes = 16 << 10
	// DefaultMaxInFlight bounds requests served at once.
	DefaultMaxInFlight = 64
)

// Handler serves the API over svc. timeout bounds each request.
type Handler struct {
	svc     Service
	timeout time.Duration
	log     *slog.Logger
	slots   chan struct{}
	mux     *http.ServeMux
	usage   func() UsageStatus
}

// WithUsage makes /v1/status report usage metering through fn (nil: none).
func (h *Handler) WithUsage(fn func() UsageStatus) *Handler {
	h.usage = fn
	return h
}

// NewHandler returns the API handler. maxInFlight <= 0 means
// DefaultMaxInFlight.
func NewHandler(svc Service, timeout time.Duration, maxInFlight int, log *slog.Logger) *Handler {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{svc: svc, timeout: timeout, log: log, slots: make(chan struct{}, maxInFlight), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/leases", h.acquire)
	h.mux.HandleFunc("POST /v1/leases/borrow", h.borrow)
	h.mux.HandleFunc("GET /v1/leases", h.list)
	h.mux.HandleFunc("GET /v1/leases/{id}", h.get)
	h.mux.HandleFunc("DELETE /v1/leases/{id}", h.release)
	h.mux.HandleFunc("POST /v1/verify", h.verify)
	h.mux.HandleFunc("GET /v1/status", h.status)
	h.mux.HandleFunc("GET /v1/entitlements", h.entitlements)
	h.mux.HandleFunc("GET /v1/notifications", h.notifications)
	h.mux.HandleFunc("GET /v1/features/{name}", h.feature)
	h.mux.HandleFunc("POST /v1/credits/consume", h.consume)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.mux.HandleFunc("GET /readyz", h.readyz)
	for path, allow := range map[string]string{
		"/v1/leases":          "GET, POST",
		"/v1/leases/{id}":     "GET, DELETE",
		"/v1/verify":          "POST",
		"/v1/status":          "GET",
		"/v1/entitlements":    "GET",
		"/v1/features/{name}": "GET",
		"/v1/credits/consume": "POST",
		"/healthz":            "GET",
		"/readyz":             "GET",
	} {
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s %s: allowed: %s", r.Method, r.URL.Path, allow))
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	return h
}

// ServeHTTP bounds the request in time and in number, then routes it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		writeError(w, http.StatusServiceUnavailable, "busy", "too many requests in flight; retry shortly")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) acquire(w http.ResponseWriter, r *http.Request) {
	var req AcquireRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Pool == "" || req.Holder == "" {
		writeError(w, http.StatusBadRequest, "invalid_input", `"pool" and "holder" are required`)
		return
	}
	l, err := h.svc.Acquire(r.Context(), req.Pool, req.Holder)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LeaseFrom(l))
}

// borrow lends a holder a seat for a while (DESIGN P4): the answer is the
// lease, whose token verifies with no master until the borrow ends.
func (h *Handler) borrow(w http.ResponseWriter, r *http.Request) {
	var req BorrowRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Pool == "" || req.Holder == "" || req.Duration == "" {
		writeError(w, http.StatusBadRequest, "invalid_input", `"pool", "holder" and "duration" are required`)
		return
	}
	d, err := license.ParseDuration(req.Duration)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_input", fmt.Sprintf("duration: %v", err))
		return
	}
	l, err := h.svc.Borrow(r.Context(), req.Pool, req.Holder, time.Duration(d))
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, LeaseFrom(l))
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	all := h.svc.Leases()
	out := ListResponse{Leases: make([]Lease, 0, len(all))}
	for _, l := range all {
		out.Leases = append(out.Leases, LeaseFrom(l))
	}
	out.Counts = CountsFrom(leasebook.Tally(all))
	out.MaxLeases = h.svc.Status().MaxLeases
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := leaseID(w, r)
	if !ok {
		return
	}
	l, found := h.svc.Lease(id)
	if !found {
		writeError(w, http.StatusNotFound, "unknown_lease", fmt.Sprintf("this collector holds no lease %d", id))
		return
	}
	writeJSON(w, http.StatusOK, LeaseFrom(l))
}

func (h *Handler) release(w http.ResponseWriter, r *http.Request) {
	id, ok := leaseID(w, r)
	if !ok {
		return
	}
	l, pending, err := h.svc.Release(r.Context(), id)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	code := http.StatusOK
	if pending {
		code = http.StatusAccepted
	}
	writeJSON(w, code, ReleaseResponse{Lease: LeaseFrom(l), Released: !pending, Pending: pending})
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	var req VerifyRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Token == "" {
		writeError(w, http.StatusBadRequest, "invalid_input", `"token" is required`)
		return
	}
	writeJSON(w, http.StatusOK, VerifyFrom(h.svc.Verify(req.Token)))
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	st := StatusFrom(h.svc.Status())
	if h.usage != nil {
		u := h.usage()
		st.Usage = &u
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *Handler) entitlements(w http.ResponseWriter, r *http.Request) {
	e, err := h.svc.Entitlements()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "no_entitlements", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// notifications are the notices the product shows its users: licenses
// near their end or ended, trials ending, credits low or used up, judged
// from the signed entitlements, so they keep coming with every master down.
func (h *Handler) notifications(w http.ResponseWriter, r *http.Request) {
	n, err := h.svc.Notifications()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "no_entitlements", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// feature answers "is module X on?" from the signed entitlements the
// collector holds, so it keeps answering while every master is down, until
// the licenses' expiry plus grace. 200 carries the answer either way; the
// product reads "enabled".
func (h *Handler) feature(w http.ResponseWriter, r *http.Request) {
	name, sku := r.PathValue("name"), r.URL.Query().Get("product")
	if err := agent.CheckName("feature", name); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_input", err.Error())
		return
	}
	if sku != "" {
		if err := agent.CheckName("product", sku); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_input", err.Error())
			return
		}
	}
	c, err := h.svc.CheckFeature(name, sku)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "no_entitlements", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *Handler) consume(w http.ResponseWriter, r *http.Request) {
	var req ConsumeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := agent.CheckName("unit", req.Unit); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_input", err.Error())
		return
	}
	if req.Amount < 1 || req.Amount > 1<<53 {
		writeError(w, http.StatusBadRequest, "invalid_input", fmt.Sprintf(`"amount" %d must be between 1 and 2^53`, req.Amount))
		return
	}
	res, err := h.svc.ConsumeCredits(r.Context(), req.Unit, req.Amount)
	var rej *agent.RejectedError
	switch {
	case errors.As(err, &rej) && rej.Code == connect.CodeResourceExhausted:
		writeError(w, http.StatusConflict, "credits_exhausted", rej.Message)
	case errors.As(err, &rej) && rej.Code == connect.CodeNotFound:
		writeError(w, http.StatusNotFound, "unknown_credit_unit", rej.Message)
	case err != nil:
		h.writeErr(w, r, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.svc.Ready():
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	default:
		writeError(w, http.StatusServiceUnavailable, "not_ready", "not enrolled or no master has answered yet")
	}
}

// leaseID parses the {id} path value.
func leaseID(w http.ResponseWriter, r *http.Request) (lease.ID, bool) {
	raw := r.PathValue("id")
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || n == 0 {
		writeError(w, http.StatusBadRequest, "invalid_input", fmt.Sprintf("lease id %q is not a positive integer", clip(raw)))
		return 0, false
	}
	return lease.ID(n), true
}

// decodeBody decodes exactly one JSON object with known fields only,
// answering 400 (or 413) itself when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "invalid_input", fmt.Sprintf("content type %q, want application/json", clip(ct)))
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_input", fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_input", "cannot read body: "+err.Error())
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_input", "invalid JSON body: "+jsonProblem(err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid_input", "invalid JSON body: data after the object")
		return false
	}
	return true
}

// jsonProblem rewrites a decoding error in the client's terms.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be a %s, not %s", te.Field, te.Type, te.Value)
		}
		return fmt.Sprintf("want a JSON object, not %s", te.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

// writeErr maps an agent error to a status and code.
func (h *Handler) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var rej *agent.RejectedError
	switch {
	case errors.Is(err, agent.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, "invalid_input", err.Error())
	case errors.Is(err, agent.ErrUnknownLease):
		writeError(w, http.StatusNotFound, "unknown_lease", err.Error())
	case errors.Is(err, agent.ErrFull):
		writeError(w, http.StatusTooManyRequests, "max_leases", err.Error())
	case errors.Is(err, agent.ErrNotReady):
		writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
	case errors.As(err, &rej):
		status, code := rejection(rej.Code)
		writeError(w, status, code, rej.Message)
	case errors.Is(err, agent.ErrUnavailable):
		if r.Context().Err() != nil {
			writeError(w, http.StatusGatewayTimeout, "timeout", "no master answered within the request timeout")
			return
		}
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "timeout", "no master answered within the request timeout")
	default:
		h.log.Error("collectord: local api: unexpected error", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

// rejection maps a master's refusal to an HTTP status and code.
func rejection(c connect.Code) (int, string) {
	switch c {
	case connect.CodeResourceExhausted:
		return http.StatusConflict, "no_seats"
	case connect.CodeNotFound:
		return http.StatusNotFound, "not_found"
	case connect.CodeInvalidArgument, connect.CodeOutOfRange:
		return http.StatusBadRequest, "invalid_input"
	case connect.CodePermissionDenied, connect.CodeUnauthenticated:
		return http.StatusForbidden, "forbidden"
	case connect.CodeAlreadyExists, connect.CodeFailedPrecondition:
		return http.StatusConflict, "refused"
	}
	return http.StatusBadGateway, "refused"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg, Code: code})
}

// clip bounds client input echoed in an error.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
