package failover

import (
	"fmt"
	"slices"
	"sync"

	"github.com/licmesh/licmesh/collectors/config"
)

// List is the set of masters the collector knows, in the order to try them.
// It is safe for concurrent use.
type List struct {
	seeds []string // from the config file, kept as a last resort

	mu      sync.Mutex
	addrs   []string // current order; addrs[0] is the preferred master
	learned []string // last list learned from a master, as it was sent
}

// New returns a list starting from the configured seeds and the masters
// remembered from the last run (either may be empty, not both). Entries are
// normalized; invalid ones are skipped (the config was validated, and a bad
// remembered list must not stop the collector).
func New(seeds, remembered []string) (*List, error) {
	l := &List{seeds: normalizeAll(seeds)}
	rem := normalizeAll(remembered)
	l.learned = rem
	l.addrs = merge(MaxMasters, rem, l.seeds)
	if len(l.addrs) == 0 {
		return nil, fmt.Errorf("%w: no master addresses", ErrBadList)
	}
	return l, nil
}

// MaxMasters bounds the list.
const MaxMasters = config.MaxMasters

// Current returns the preferred master: the one that answered last, or the
// first known.
func (l *List) Current() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[0]
}

// Snapshot returns the masters in the order they will be tried.
func (l *List) Snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.addrs)
}

// Learned returns the masters list last learned from a master (or loaded at
// start), for persisting.
func (l *List) Learned() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.learned)
}

// Succeeded makes addr the preferred master.
func (l *List) Succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.addrs, addr)
	if i <= 0 {
		return
	}
	// Rotate rather than move to front, so the others keep their relative
	// order and a failing round visits each once.
	l.addrs = append(l.addrs[i:], l.addrs[:i]...)
}

// Failed moves past addr if it is the preferred master, so the next call
// goes to the next one.
func (l *List) Failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) > 1 && l.addrs[0] == addr {
		l.addrs = append(l.addrs[1:], l.addrs[0])
	}
}

// Learn takes the masters list a master sent. The list replaces what was
// learned before; the preferred master stays first even if it is missing
// from the list (it may know itself by another name), and the configured
// seeds stay at the end as a last resort. An invalid list (empty, longer than
// MaxMasters, any bad entry) is refused with ErrBadList and changes nothing.
// changed reports whether the learned list differs from before.
func (l *List) Learn(from string, addrs []string) (changed bool, err error) {
	if len(addrs) == 0 {
		return false, fmt.Errorf("%w: empty", ErrBadList)
	}
	if len(addrs) > MaxMasters {
		return false, fmt.Errorf("%w: %d entries, at most %d allowed", ErrBadList, len(addrs), MaxMasters)
	}
	norm := make([]string, 0, len(addrs))
	for i, a := range addrs {
		n, err := config.NormalizeMaster(a)
		if err != nil {
			return false, fmt.Errorf("%w: entry %d %q: %s", ErrBadList, i, clip(a), err)
		}
		if !slices.Contains(norm, n) {
			norm = append(norm, n)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if slices.Equal(norm, l.learned) {
		return false, nil
	}
	l.learned = norm
	cur := l.addrs[0]
	if from != "" {
		cur = from
	}
	l.addrs = merge(MaxMasters, []string{cur}, norm, l.seeds)
	return true, nil
}

// normalizeAll normalizes addresses, dropping invalid ones and duplicates.
func normalizeAll(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if n, err := config.NormalizeMaster(a); err == nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
		if len(out) == MaxMasters {
			break
		}
	}
	return out
}

// merge concatenates lists without duplicates, up to limit entries.
func merge(limit int, lists ...[]string) []string {
	var out []string
	for _, list := range lists {
		for _, a := range list {
			if len(out) == limit {
				return out
			}
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// clip bounds text from a master quoted in an error.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
