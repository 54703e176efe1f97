package master

import (
	"context"
	"sync"
	"time"

	"github.com/licmesh/licmesh/node/fsm"
)

// presenceFlush is how often a master commits which collectors it has heard
// from. Last-seen times are for people, so a coarse, batched write keeps
// Raft free of per-request traffic.
const presenceFlush = 5 * time.Second

// presenceRefresh is how stale a collector's recorded last-seen time may
// get while it keeps calling with the same version and protocol: hellos
// come every 30 s (a little under that, so that every hello is recorded),
// renewals (which count as presence too) every third of a lease's TTL, and
// recording each would triple the presence written to Raft for nothing
// anyone reads at that precision.
const presenceRefresh = 25 * time.Second

// presence remembers the collectors this master heard from since its last
// flush, and what it last recorded of each.
type presence struct {
	mu       sync.Mutex
	dirty    map[string]fsm.SeenEntry
	recorded map[string]fsm.SeenEntry
}

func newPresence() *presence {
	return &presence{dirty: map[string]fsm.SeenEntry{}, recorded: map[string]fsm.SeenEntry{}}
}

func (p *presence) seen(id, version, proto string, now time.Time) {
	e := fsm.SeenEntry{CollectorID: id, Version: version, Protocol: proto, SeenAt: now.UnixMilli()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.recorded[id]; ok && r.Version == version && r.Protocol == proto && e.SeenAt-r.SeenAt < presenceRefresh.Milliseconds() {
		return
	}
	p.dirty[id], p.recorded[id] = e, e
}

// take returns what was heard since the last take, and forgets what it
// recorded long enough ago that a call would be recorded anyway (which
// keeps recorded to the collectors calling this master).
func (p *presence) take(now time.Time) []fsm.SeenEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, r := range p.recorded {
		if now.UnixMilli()-r.SeenAt >= presenceRefresh.Milliseconds() {
			delete(p.recorded, id)
		}
	}
	if len(p.dirty) == 0 {
		return nil
	}
	out := make([]fsm.SeenEntry, 0, len(p.dirty))
	for _, e := range p.dirty {
		out = append(out, e)
	}
	p.dirty = map[string]fsm.SeenEntry{}
	return out
}

// run flushes until ctx ends.
func (p *presence) run(ctx context.Context, s *Server) {
	t := time.NewTicker(presenceFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		entries := p.take(s.now())
		if len(entries) == 0 {
			continue
		}
		if _, err := s.apply(ctx, fsm.CollectorSeenType, fsm.CollectorSeen{Now: s.now().UnixMilli(), Entries: entries}); err != nil {
			s.log.Debug("presence flush failed", "collectors", len(entries), "err", err)
			p.forget(entries) // the next call records them again
		}
	}
}

// forget drops what was recorded of entries' collectors.
func (p *presence) forget(entries []fsm.SeenEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range entries {
		delete(p.recorded, e.CollectorID)
	}
}
