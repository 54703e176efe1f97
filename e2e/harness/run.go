package harness

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"time"
)

// RunCmd runs a command to completion (at most a minute) and returns its
// stdout, stderr and exit code (-1 if it could not run).
func RunCmd(bin string, args, env []string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			code = -1
			errb.WriteString(err.Error())
		}
	}
	return out.String(), errb.String(), code
}

// RunCmdIn runs one of the project's binaries by name.
func RunCmdIn(t interface{ Fatal(...any) }, name string, args ...string) (string, string, int) {
	bin, err := Binaries()
	if err != nil {
		t.Fatal(err)
	}
	return RunCmd(bin+"/"+name, args, nil)
}
