//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"context"
	"errors"
	"os"
)

// isTerminal reports whether f is a character device: on these systems
// meshctl cannot turn echo off, so readHidden refuses.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func readHidden(context.Context, *os.File) (string, error) {
	return "", errors.New("meshctl: cannot read a password without echo on this system; pipe it on standard input")
}
