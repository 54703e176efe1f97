package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// runMeshctl runs meshctl in-process with env as its whole environment,
// logs what it printed, and returns that and its exit status.
func runMeshctl(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = runEnv(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
	t.Logf("meshctl %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}
