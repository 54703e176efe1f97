package fsm

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"sync"
	"time"
)

// zoneinfo.zip is Go's copy of the IANA time zone database, built into the
// FSM. Month and day bounds are replicated state: every master must cut
// them from the same zone rules, so zones are never read from the host
// (whose /usr/share/zoneinfo may be older or newer than a peer's, and which
// time.LoadLocation prefers). Masters of one build agree exactly; updating
// this file is a release decision, like any change to FSM behaviour.
//
//go:embed zoneinfo.zip
var zoneinfoZip []byte

var zones struct {
	once  sync.Once
	files map[string]*zip.File
	err   error
	mu    sync.Mutex
	cache map[string]*time.Location
}

// loadBuiltinZone returns the named zone from the built-in database.
func loadBuiltinZone(name string) (*time.Location, error) {
	if name == "UTC" {
		return time.UTC, nil
	}
	zones.once.Do(func() {
		r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
		if err != nil {
			zones.err = fmt.Errorf("built-in zone database: %w", err)
			return
		}
		zones.files = make(map[string]*zip.File, len(r.File))
		for _, f := range r.File {
			zones.files[f.Name] = f
		}
		zones.cache = map[string]*time.Location{}
	})
	if zones.err != nil {
		return nil, zones.err
	}
	zones.mu.Lock()
	defer zones.mu.Unlock()
	if loc, ok := zones.cache[name]; ok {
		return loc, nil
	}
	f, ok := zones.files[name]
	if !ok {
		return nil, fmt.Errorf("no zone %q in the built-in database", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, err
	}
	zones.cache[name] = loc
	return loc, nil
}
