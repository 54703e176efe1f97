//go:build !unix

package sources

import "os/exec"

// processGroups says whether commands can be run in their own process group;
// without them a timeout could not reach a command's children, so exec
// sources are refused.
const processGroups = false

func inProcessGroup(cmd *exec.Cmd) {}

func killGroup(pid int) error { return nil }

func lowerPriority(pid, nice int) {}
