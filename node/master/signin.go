package master

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/licmesh/licmesh/mesh/pki"
)

// Password sign-ins are throttled per user name: after signinFailures
// failures within signinWindow, the name is refused until the window ends,
// right password or not. The count is this master's own (a guesser
// spreading over three masters gets three times the tries), which still
// holds an online guess to a few hundred a day.
const (
	signinFailures = 5
	signinWindow   = 15 * time.Minute
	// maxSigninNames bounds the names tracked; past it the table is
	// cleared, which only ever gives a guesser a fresh count.
	maxSigninNames = 10_000
)

type signinFails struct {
	n     int
	since time.Time
}

type signinLimiter struct {
	mu    sync.Mutex
	names map[string]signinFails
	// decoy is a real hash of a random password, checked for names that do
	// not exist so that they take as long as those that do.
	decoy string
}

func newSigninLimiter() *signinLimiter {
	b := make([]byte, 24)
	rand.Read(b)
	decoy, err := pki.HashPassword(hex.EncodeToString(b))
	if err != nil {
		panic("master: decoy password: " + err.Error()) // 48 hex characters always pass the policy
	}
	return &signinLimiter{names: map[string]signinFails{}, decoy: decoy}
}

func (l *signinLimiter) allow(name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.names[name]
	if !ok || now.Sub(f.since) >= signinWindow {
		return true
	}
	return f.n < signinFailures
}

func (l *signinLimiter) failed(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.names) >= maxSigninNames {
		clear(l.names)
	}
	f := l.names[name]
	if f.n == 0 || now.Sub(f.since) >= signinWindow {
		f = signinFails{since: now}
	}
	f.n++
	l.names[name] = f
}

func (l *signinLimiter) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.names, name)
}
