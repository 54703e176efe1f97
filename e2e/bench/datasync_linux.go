package bench

import (
	"os"
	"syscall"
)

// datasync flushes f's data the way bolt does on Linux: fdatasync skips the
// metadata flush that fsync would add.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
