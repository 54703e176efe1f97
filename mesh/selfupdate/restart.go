package selfupdate

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Restart modes.
const (
	// RestartExec replaces the process with a fresh run of the binary, in
	// place: same PID, arguments and environment.
	RestartExec = "exec"
	// RestartExit ends the process with ExitTempFail for its supervisor
	// (systemd Restart=on-failure, a container's restart policy) to start
	// the binary again.
	RestartExit = "exit"
)

// ExitTempFail is the status of a RestartExit: EX_TEMPFAIL of sysexits.h.
const ExitTempFail = 75

// Restart re-executes exe with the process's arguments and environment
// (syscall.Exec) when mode is RestartExec, or exits with ExitTempFail when
// mode is RestartExit. It returns only on failure. The caller closes what
// must be closed first: no deferred function runs.
func Restart(exe, mode string) error {
	switch mode {
	case RestartExec:
		if err := syscall.Exec(exe, os.Args, os.Environ()); err != nil {
			return fmt.Errorf("selfupdate: exec %s: %w", exe, err)
		}
		return nil
	case RestartExit:
		os.Exit(ExitTempFail)
		return nil
	default:
		return fmt.Errorf("%w %q: want %s or %s", ErrMode, mode, RestartExec, RestartExit)
	}
}

// Executable returns the path of the running binary with symlinks
// resolved: the file Swap and Revert replace. Resolve it at start, before
// any swap: afterwards the kernel names the running file as deleted.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("selfupdate: %w", err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		return "", fmt.Errorf("selfupdate: %w", err)
	}
	return exe, nil
}
