//go:build unix

package sources

import (
	"errors"
	"os/exec"
	"syscall"
)

// processGroups says whether commands can be run in their own process group.
const processGroups = true

// inProcessGroup runs cmd as the leader of a new process group and makes
// cancellation kill the whole group, so children it started cannot outlive
// a timeout.
func inProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
}

// killGroup kills the process group led by pid; an empty group is fine.
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// lowerPriority renices the group led by pid; best effort, since the
// command may already have exited.
func lowerPriority(pid, nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PGRP, pid, nice)
}
