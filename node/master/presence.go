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

// presence remembers the collectors this master heard from since its last
// flush.
type presence struct {
	mu    sync.Mutex
	dirty map[string]fsm.SeenEntry
}

func newPresence() *presence { return &presence{dirty: map[string]fsm.SeenEntry{}} }

func (p *presence) seen(id, version, proto string, now time.Time) {
	p.mu.Lock()
	p.dirty[id] = fsm.SeenEntry{CollectorID: id, Version: version, Protocol: proto, SeenAt: now.UnixMilli()}
	p.mu.Unlock()
}

func (p *presence) take() []fsm.SeenEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
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
		entries := p.take()
		if len(entries) == 0 {
			continue
		}
		if _, err := s.apply(ctx, fsm.CollectorSeenType, fsm.CollectorSeen{Now: s.now().UnixMilli(), Entries: entries}); err != nil {
			s.log.Debug("presence flush failed", "collectors", len(entries), "err", err)
		}
	}
}
