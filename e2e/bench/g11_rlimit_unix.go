//go:build unix

package bench

import "syscall"

// raiseFileLimit lifts the soft limit on open files to the hard one: a
// fleet of collectors holds many sockets, and the masters it starts
// inherit the limit.
func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= l.Max {
		return nil
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}
