package agent

import (
	"sync"
)

// tokenCheckEvery is how often the signature of a lease token from a master
// is checked: the first token from each master, then one in this many.
//
// Every token is checked for what it says (lease, holder, pool, fence,
// collector, cluster) against the master's answer; only the Ed25519
// verification is sampled. The master is already authenticated by mutual
// TLS under the cluster's CA, it signs with the key replicated from the same
// cluster state the collector enrolled with, and its hello announces that
// key, which the collector compares. The signature therefore guards against
// a master's bug, not an impostor, and a bug that breaks signing breaks it
// for every token, which the first one shows. Checking each token cost a
// quarter of collectord's CPU per seat operation (G2 at C=64): the host's
// CPU, which collectord must spare. The product's own check is untouched:
// POST /v1/verify and offline verification check every signature.
const tokenCheckEvery = 64

// maxSampledMasters bounds the masters the sampler remembers; the list of
// masters is short, and forgetting one only checks its next token.
const maxSampledMasters = 256

// tokenSampler picks the lease tokens whose signature is checked.
type tokenSampler struct {
	every uint64 // 1 checks every token
	mu    sync.Mutex
	by    map[string]*masterTokens // by master address
}

type masterTokens struct {
	n uint64 // tokens seen from the master
	// strict is set once a token from the master failed its signature
	// check: every later token of it is checked.
	strict bool
}

func newTokenSampler(every uint64) *tokenSampler {
	return &tokenSampler{every: max(every, 1), by: make(map[string]*masterTokens)}
}

// due says whether the next token from the master at addr has its
// signature checked.
func (s *tokenSampler) due(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.by[addr]
	if m == nil {
		if len(s.by) >= maxSampledMasters {
			clear(s.by)
		}
		m = &masterTokens{}
		s.by[addr] = m
	}
	m.n++
	return m.strict || s.every == 1 || m.n%s.every == 1
}

// failed records that a token from addr did not verify, or that addr
// announced another key, and reports whether addr was not marked so yet.
func (s *tokenSampler) failed(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.by[addr]
	if m == nil {
		m = &masterTokens{}
		s.by[addr] = m
	}
	first := !m.strict
	m.strict = true
	return first
}
