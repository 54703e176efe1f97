package agent

import (
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// systemBootClock reads the kernel's boot ID and CLOCK_BOOTTIME: time since
// boot, suspend included, which no setting of the wall clock moves. A
// borrow's end kept on it survives a restart of the collector exactly.
func systemBootClock() (bootID string, sinceBoot time.Duration, ok bool) {
	raw, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", 0, false
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return "", 0, false
	}
	return strings.TrimSpace(string(raw)), time.Duration(ts.Nano()), true
}
