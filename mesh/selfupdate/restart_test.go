package selfupdate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// child runs the test binary again as a child that calls Restart(exe, mode)
// and returns its output and exit code.
func child(t *testing.T, mode, exe string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), restartEnv+"="+mode+":"+exe)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

func TestRestartExit(t *testing.T) {
	_, code := child(t, RestartExit, "")
	require.Equal(t, ExitTempFail, code, "exit status of an exit restart")
}

func TestRestartExec(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no exec in place on windows")
	}
	exe := install(t, "2.0.0")
	out, code := child(t, RestartExec, exe)
	require.Equal(t, 0, code, "output %q", out)
	require.Equal(t, "ran 2.0.0", strings.TrimSpace(out), "the process became the new build")
}

func TestRestartRefuses(t *testing.T) {
	require.ErrorIs(t, Restart("/nonexistent", "reboot"), ErrMode)
	err := Restart(filepath.Join(t.TempDir(), "missing"), RestartExec)
	require.ErrorContains(t, err, "selfupdate: exec")
}

func TestExecutable(t *testing.T) {
	exe, err := Executable()
	require.NoError(t, err)
	assert.True(t, filepath.IsAbs(exe), "%s is not absolute", exe)
	fi, err := os.Lstat(exe)
	require.NoError(t, err)
	assert.Zero(t, fi.Mode()&os.ModeSymlink, "%s is a symlink", exe)
}
