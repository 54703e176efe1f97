package harness

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// MariaDB returns the DSN of a MariaDB server whose account may create
// databases: $LICMESH_TEST_MYSQL_DSN when set, else a throwaway server for
// t, started from the installed binaries by mesh/dbtest/pgserve (built
// here) and stopped at cleanup. Without MariaDB installed, t is skipped.
func MariaDB(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv("LICMESH_TEST_MYSQL_DSN"); dsn != "" {
		return dsn
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	serve := filepath.Join(t.TempDir(), "pgserve")
	build := exec.Command("go", "build", "-o", serve, "./mesh/dbtest/pgserve")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("harness: go build pgserve: %v\n%s", err, out)
	}
	cmd := exec.Command(serve, "-mariadb")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// pgserve stops the server when its standard input closes.
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if dsn, ok := strings.CutPrefix(sc.Text(), "LICMESH_TEST_MYSQL_DSN="); ok {
			return dsn
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Skipf("harness: no MariaDB: %s", strings.TrimSpace(stderr.String()))
	}
	t.Fatalf("harness: pgserve -mariadb printed no DSN (%v): %s", err, stderr.String())
	return ""
}
