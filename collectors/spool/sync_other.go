//go:build !linux

package spool

import "os"

// datasync flushes a segment; without fdatasync it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }
