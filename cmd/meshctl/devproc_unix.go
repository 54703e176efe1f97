//go:build unix && !linux

package main

import "syscall"

func devSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
