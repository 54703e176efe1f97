//go:build !linux

package agent

import "time"

// systemBootClock has no boot clock to offer here: borrows kept across a
// restart are judged by trusted wall time.
func systemBootClock() (bootID string, sinceBoot time.Duration, ok bool) { return "", 0, false }
