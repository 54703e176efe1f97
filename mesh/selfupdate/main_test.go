package selfupdate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// helperSource is the stand-in build: it prints its version for `version`,
// and "ran <version>" otherwise.
const helperSource = `package main

import (
	"fmt"
	"os"
)

var v = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println(v)
		return
	}
	fmt.Println("ran", v)
}
`

// builds holds the helper built at versions 1.0.0 and 2.0.0, once for the
// package.
var builds = map[string][]byte{}

// restartEnv makes the test binary, run again as a child, call Restart
// with "mode:exe" instead of running tests.
const restartEnv = "SELFUPDATE_TEST_RESTART"

func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(restartEnv); ok {
		mode, exe, _ := strings.Cut(spec, ":")
		fmt.Fprintln(os.Stderr, Restart(exe, mode))
		os.Exit(3)
	}
	dir, err := os.MkdirTemp("", "selfupdate-test")
	if err != nil {
		panic(err)
	}
	err = buildHelpers(dir)
	if err == nil {
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "selfupdate test:", err)
	os.Exit(1)
}

func buildHelpers(dir string) error {
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(helperSource), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module helper\n\ngo 1.22\n"), 0o600); err != nil {
		return err
	}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		out := filepath.Join(dir, "helper-"+v)
		cmd := exec.Command("go", "build", "-ldflags", "-X main.v="+v, "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", v, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		builds[v] = b
	}
	return nil
}

// install writes the build of version v as exe in a fresh directory and
// returns exe's path.
func install(t *testing.T, v string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "collectord")
	require.NoError(t, os.WriteFile(exe, builds[v], 0o755))
	return exe
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// requireContent checks that path holds the build of version v.
func requireContent(t *testing.T, path, v string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(builds[v], b), "%s is not the %s build", path, v)
}
