package fsm

import (
	"errors"
	"sync"

	"github.com/hashicorp/raft"
)

// FSM is the master's replicated state machine. It implements raft.FSM and
// raft.BatchingFSM.
//
// Concurrency: Apply, ApplyBatch, Snapshot and Restore take the write lock;
// the read methods take the read lock and return copies, so they are safe
// to call from any goroutine at any time, including while a snapshot is
// being persisted. A read sees the state between two log entries, never in
// the middle of one (ApplyBatch holds the lock for the whole batch).
type FSM struct {
	mu  sync.RWMutex
	st  *state
	obs Observer
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// applyCtx is what an apply function knows besides the command: where in
// the log it is, whom to tell about lease changes, and the time the
// command happens at, max(trusted time, the command's Now), which is what
// it stamps and judges licenses by, so that a leader with a slower clock
// never moves a record back in time.
type applyCtx struct {
	index uint64
	obs   Observer
	at    int64
}

// applyFunc applies one decoded, validated command. It must be
// deterministic, must leave the state untouched when it returns an error in
// Response.Err, and must not do I/O or read the clock. Each message type
// has one, in the message table (messages).
type applyFunc func(s *state, ac *applyCtx, cmd command) Response

// New returns an empty FSM (not bootstrapped).
func New() *FSM {
	return &FSM{st: newState(0)}
}

// SetObserver installs (or, with nil, removes) the observer told about
// lease grants and removals. See Observer for its contract; never call
// SetObserver from inside an observer method.
func (f *FSM) SetObserver(o Observer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.obs = o
}

// Apply applies one committed log entry and returns a Response for command
// entries (nil for others).
func (f *FSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applyLogLocked(l)
}

// ApplyBatch applies committed entries in order under one lock acquisition
// and returns one result per entry, as Apply would.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range logs {
		out[i] = f.applyLogLocked(l)
	}
	return out
}

func (f *FSM) applyLogLocked(l *raft.Log) any {
	if l.Index > f.st.index {
		f.st.index = l.Index
	}
	if l.Type != raft.LogCommand {
		return nil
	}
	return f.applyLocked(l.Index, l.Data)
}

// applyLocked decodes and applies one command. Garbage is refused before it
// reaches an apply function, so it changes nothing; a type this version
// does not know is skipped if it carries IgnoreUnknownTypeFlag and refused
// otherwise.
func (f *FSM) applyLocked(index uint64, data []byte) Response {
	t, cmd, err := Decode(data)
	if err != nil {
		if t&IgnoreUnknownTypeFlag != 0 && errors.Is(err, ErrUnknownMsgType) {
			return Response{Index: index}
		}
		return Response{Index: index, Err: err}
	}
	c := cmd.(command)
	m, _ := t.message() // Decode knew t
	if t.Base() != BootstrapType && f.st.cluster == nil {
		return Response{Index: index, Err: ErrNotBootstrapped}
	}
	f.st.at = max(f.st.trusted, c.now())
	resp := m.apply(f.st, &applyCtx{index: index, obs: f.obs, at: f.st.at}, c)
	resp.Index = index
	if resp.Err == nil {
		f.st.advance(c.now())
	}
	return resp
}
