package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// The audit log (issue 17): one record per change an operator asked for,
// with who, from where, what, when and how it ended. It is written in the
// same Raft entry as the change itself: a command made on behalf of a
// request is wrapped in Audited, whose apply applies the command and adds
// its record, so no change can commit without its record, nor a record
// without its change. A request that changes nothing (refused, or a
// change-free action) leaves its record with AuditEvent, which also closes
// a request that failed after some of its commands committed. Records of
// one request merge into one, by request ID.
//
// Nothing alters a record once its request is over; the oldest go when
// they pass the retention or the cap, and the log counts what went.
const (
	// MaxAuditRecords caps the records kept, whatever the retention.
	MaxAuditRecords = 100_000
	// DefaultAuditRetention is how long records are kept unless the
	// masters are told otherwise (audit_retention).
	DefaultAuditRetention = 400 * 24 * time.Hour
	maxAuditCommands      = 32
	maxAuditOutcome       = 500
)

// AuditInfo says who asked for a change, and how.
type AuditInfo struct {
	// RequestID ties together the entries of one request.
	RequestID string
	// Actor is the principal, e.g. "user:alice" or "token:<id>".
	Actor string
	Role  string `json:",omitempty"`
	// Addr is the address the request came from.
	Addr string `json:",omitempty"`
	// Action is the admin API call, e.g. "CreatePool".
	Action string
	// Via is "api" or "dashboard".
	Via string `json:",omitempty"`
	// RetentionMs is how long records are kept, as the master that took
	// the request was configured.
	RetentionMs int64 `json:",omitempty"`
}

func (i AuditInfo) validate() error {
	return firstErr(checkText("audit request id", i.RequestID, 64), checkText("audit actor", i.Actor, 128),
		checkOptText("audit role", i.Role, 32), checkOptText("audit address", i.Addr, 128),
		checkText("audit action", i.Action, 64), checkOptText("audit via", i.Via, 16), checkRetention(i.RetentionMs))
}

func checkRetention(ms int64) error {
	if ms < 0 || ms > int64(10*365*24*time.Hour/time.Millisecond) {
		return fmt.Errorf("%w: audit retention %dms out of range (0 to ten years)", ErrMalformed, ms)
	}
	return nil
}

// AuditRecord is one request's entry in the audit log.
type AuditRecord struct {
	Seq uint64
	// At is when the request's first entry applied (Unix ms of trusted
	// time).
	At int64
	AuditInfo
	// Commands are the state changes the request made, in order.
	Commands []string `json:",omitempty"`
	// Outcome is "ok", or why the request was refused or failed.
	Outcome string
	// Code is the refusal's code (e.g. "permission_denied"), empty for ok.
	Code string `json:",omitempty"`
}

// Audited applies Command on behalf of a request and records it.
type Audited struct {
	Info AuditInfo
	// Type and Body are the command, as Encode writes it: its message
	// type, and its JSON.
	Type MsgType
	Body json.RawMessage
	Now  int64
}

// AuditEvent records a request's outcome: the whole record of a request
// that changed nothing, or the end of one that failed after changing
// something.
type AuditEvent struct {
	Info    AuditInfo
	Outcome string
	Code    string `json:",omitempty"`
	Now     int64
}

// NewAudited wraps an encoded command (as Encode returns it) for info. The
// entry's time is the command's, as if it came alone.
func NewAudited(info AuditInfo, cmd []byte) (Audited, error) {
	if len(cmd) < 2 {
		return Audited{}, fmt.Errorf("%w: audited command is empty", ErrMalformed)
	}
	a := Audited{Info: info, Type: MsgType(cmd[0]), Body: json.RawMessage(cmd[1:])}
	_, inner, err := a.inner()
	if err != nil {
		return Audited{}, err
	}
	a.Now = inner.now()
	return a, nil
}

func (Audited) msgType() MsgType    { return AuditedType }
func (AuditEvent) msgType() MsgType { return AuditEventType }

func (c Audited) now() int64    { return c.Now }
func (c AuditEvent) now() int64 { return c.Now }

// inner decodes and checks the wrapped command.
func (c Audited) inner() (MsgType, command, error) {
	switch c.Type.Base() {
	case BootstrapType, AuditedType, AuditEventType:
		return 0, nil, fmt.Errorf("%w: %s cannot be audited", ErrMalformed, c.Type)
	}
	data := make([]byte, 1+len(c.Body))
	data[0] = byte(c.Type)
	copy(data[1:], c.Body)
	t, cmd, err := Decode(data)
	if err != nil {
		return 0, nil, err
	}
	return t, cmd.(command), nil
}

func (c Audited) validate() error {
	if err := c.Info.validate(); err != nil {
		return err
	}
	if _, _, err := c.inner(); err != nil {
		return err
	}
	return checkNow(c.Now)
}

func (c AuditEvent) validate() error {
	if err := c.Info.validate(); err != nil {
		return err
	}
	return firstErr(checkNow(c.Now), checkText("audit outcome", c.Outcome, maxAuditOutcome), checkOptText("audit code", c.Code, 32))
}

type auditState struct {
	records   []AuditRecord // by Seq
	byRequest map[string]uint64
	nextSeq   uint64
	dropped   uint64
}

func newAuditState() *auditState { return &auditState{byRequest: map[string]uint64{}, nextSeq: 1} }

// find returns the position of the record with seq.
func (a *auditState) find(seq uint64) (int, bool) {
	i := sort.Search(len(a.records), func(i int) bool { return a.records[i].Seq >= seq })
	return i, i < len(a.records) && a.records[i].Seq == seq
}

// record adds to the request's record, making it if it is the first, and
// returns it with how many times its outcome was set (its version) and
// whether the outcome changed.
func (a *auditState) record(info AuditInfo, at int64, command string, outcome, code string) (AuditRecord, int, bool) {
	if seq, ok := a.byRequest[info.RequestID]; ok {
		if i, ok := a.find(seq); ok {
			r := &a.records[i]
			if command != "" && len(r.Commands) < maxAuditCommands {
				r.Commands = append(r.Commands, command)
			}
			// A refusal is the request's outcome; a later ok does not
			// hide an earlier refusal of one of its commands.
			// Only a new outcome is news; the API's closing event often
			// restates the FSM's refusal with the code the caller saw.
			changed := false
			if r.Outcome == "ok" || outcome != "ok" {
				changed = r.Outcome != outcome
				r.Outcome, r.Code = outcome, code
			}
			return *r, len(r.Commands) + 1, changed
		}
	}
	r := AuditRecord{Seq: a.nextSeq, At: at, AuditInfo: info, Outcome: outcome, Code: code}
	if command != "" {
		r.Commands = []string{command}
	}
	a.nextSeq++
	a.records = append(a.records, r)
	a.byRequest[info.RequestID] = r.Seq
	a.prune(at, info.RetentionMs)
	return r, 1, true
}

// prune drops the records past retention (0: the default) or the cap.
func (a *auditState) prune(now, retentionMs int64) {
	if retentionMs == 0 {
		retentionMs = DefaultAuditRetention.Milliseconds()
	}
	n := 0
	for n < len(a.records) && (len(a.records)-n > MaxAuditRecords || a.records[n].At < now-retentionMs) {
		delete(a.byRequest, a.records[n].RequestID)
		n++
	}
	if n == 0 {
		return
	}
	a.dropped += uint64(n)
	a.records = a.records[n:]
	if cap(a.records) > 2*len(a.records)+1024 {
		a.records = slices.Clone(a.records)
	}
}

// outcomeOf is how an FSM refusal reads in the log.
func outcomeOf(err error) (string, string) {
	if err == nil {
		return "ok", ""
	}
	msg := err.Error()
	if len(msg) > maxAuditOutcome {
		msg = msg[:maxAuditOutcome]
	}
	code := "failed_precondition"
	if errors.Is(err, ErrMalformed) {
		code = "invalid_argument"
	}
	return msg, code
}

func applyAudited(s *state, ac *applyCtx, c *Audited) Response {
	t, inner, err := c.inner()
	if err != nil { // Decode validated it; a later version's type is refused here too
		return Response{Err: err}
	}
	m, _ := t.message()
	resp := m.apply(s, &applyCtx{index: ac.index, obs: ac.obs, at: max(s.trusted, inner.now())}, inner)
	if resp.Err == nil {
		s.advance(inner.now())
	}
	outcome, code := outcomeOf(resp.Err)
	if r, version, changed := s.audit.record(c.Info, ac.at, m.name, outcome, code); changed {
		s.alerts.queueAuditDeliveries(r, version, ac.at)
	}
	return resp
}

func applyAuditEvent(s *state, ac *applyCtx, c *AuditEvent) Response {
	if r, version, changed := s.audit.record(c.Info, ac.at, "", c.Outcome, c.Code); changed {
		s.alerts.queueAuditDeliveries(r, version, ac.at)
	}
	return Response{}
}

// AuditFilter selects audit records; zero fields match everything.
type AuditFilter struct {
	Actor  string
	Action string
	// Since and Until bound At (Unix ms), Since inclusive, Until exclusive.
	Since, Until int64
	// Before pages backwards: only records with Seq < Before.
	Before uint64
	// Limit caps the records returned; 0 means 100.
	Limit int
}

// AuditPage is a page of the audit log, newest first.
type AuditPage struct {
	Records []AuditRecord
	// More says older records match too: ask again with Before set to the
	// last record's Seq.
	More bool
	// Dropped counts the records ever dropped by retention or the cap;
	// Kept is how many are kept now.
	Dropped uint64
	Kept    int
}

// Audit returns the audit records f selects, newest first.
func (f *FSM) Audit(q AuditFilter) AuditPage {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a := f.st.audit
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	page := AuditPage{Dropped: a.dropped, Kept: len(a.records)}
	end := len(a.records)
	if q.Before != 0 {
		end, _ = a.find(q.Before)
	}
	for i := end - 1; i >= 0; i-- {
		r := a.records[i]
		if q.Since != 0 && r.At < q.Since {
			break // records are in At order too: trusted time never goes back
		}
		if (q.Actor != "" && r.Actor != q.Actor) || (q.Action != "" && r.Action != q.Action) || (q.Until != 0 && r.At >= q.Until) {
			continue
		}
		if len(page.Records) == limit {
			page.More = true
			break
		}
		r.Commands = slices.Clone(r.Commands)
		page.Records = append(page.Records, r)
	}
	return page
}

// Snapshot record kinds 25 and 26, after the accounts' and counted with the
// alerts' in the end record:
//
//	25 audit head    the next Seq and the count dropped
//	26 audit record  one record, by Seq
const (
	recAuditHead   byte = 25
	recAuditRecord byte = 26
)

type auditHeadRecord struct {
	NextSeq uint64
	Dropped uint64
}

func (a *auditState) snapshot() ([]snapRecord, error) {
	out := make([]snapRecord, 0, len(a.records)+1)
	b, err := json.Marshal(auditHeadRecord{NextSeq: a.nextSeq, Dropped: a.dropped})
	if err != nil {
		return nil, fmt.Errorf("fsm: snapshot: audit head: %w", err)
	}
	out = append(out, snapRecord{recAuditHead, b})
	for _, r := range a.records {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("fsm: snapshot: audit record: %w", err)
		}
		out = append(out, snapRecord{recAuditRecord, b})
	}
	return out, nil
}

func (rs *restorer) auditRecord(kind byte, body []byte) error {
	a := rs.st.audit
	switch kind {
	case recAuditHead:
		var h auditHeadRecord
		if err := strictJSON(body, &h); err != nil {
			return badSnap("audit head: %v", err)
		}
		if h.NextSeq < 1 || len(a.records) > 0 {
			return badSnap("audit head: next seq %d, or after its records", h.NextSeq)
		}
		a.nextSeq, a.dropped = h.NextSeq, h.Dropped
	case recAuditRecord:
		var r AuditRecord
		if err := strictJSON(body, &r); err != nil {
			return badSnap("audit record: %v", err)
		}
		if err := r.AuditInfo.validate(); err != nil {
			return badSnap("audit record %d: %v", r.Seq, err)
		}
		n := len(a.records)
		if r.Seq == 0 || r.Seq >= a.nextSeq || (n > 0 && r.Seq <= a.records[n-1].Seq) || len(r.Commands) > maxAuditCommands {
			return badSnap("audit record %d out of order or out of range", r.Seq)
		}
		if n >= MaxAuditRecords {
			return badSnap("more than %d audit records", MaxAuditRecords)
		}
		a.records = append(a.records, r)
		a.byRequest[r.RequestID] = r.Seq
	}
	rs.counts[7]++
	return nil
}
