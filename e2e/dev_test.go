package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/licmesh/licmesh/e2e/harness"
)

// freeBase finds a base port whose whole `meshd dev` range is free.
func freeBase(t *testing.T) int {
	t.Helper()
	for base := 20000 + int(time.Now().UnixNano()%2000)*10; base < 60000; base += 100 {
		ok := true
		for i := range 3 {
			for _, off := range []int{0, 1, 2, 43} {
				l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+10*i+off))
				if err != nil {
					ok = false
					break
				}
				l.Close()
			}
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+80)); err == nil {
			l.Close()
		} else {
			ok = false
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range for meshd dev")
	return 0
}

// TestMeshdDev runs `meshd dev` (what `make run` runs) as a newcomer would:
// it comes up, prints a working admin token and meshctl settings, its
// simulated collectors take seats and meter their demo installations'
// usage, and Ctrl-C stops everything cleanly and removes the data it made.
func TestMeshdDev(t *testing.T) {
	bin, err := harness.Binaries()
	if err != nil {
		t.Fatal(err)
	}
	base := freeBase(t)
	logPath := filepath.Join(t.TempDir(), "dev.log")
	p, err := harness.StartProc("meshd-dev", filepath.Join(bin, "meshd"),
		[]string{"dev", "--base-port", fmt.Sprint(base), "--collectors", "2"}, []string{"TMPDIR=" + t.TempDir()}, logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	harness.DumpOnFailure(t, func() *harness.Proc { return p })

	var exports string
	err = harness.Eventually(60*time.Second, func() error {
		m := regexp.MustCompile(`export (LICMESH_ADDR=\S+ LICMESH_CA=\S+ LICMESH_TOKEN=\S+)`).FindStringSubmatch(p.Log())
		if m == nil {
			return fmt.Errorf("not up yet")
		}
		exports = m[1]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	var caFile string
	for _, kv := range strings.Fields(exports) {
		env = append(env, kv)
		if v, ok := strings.CutPrefix(kv, "LICMESH_CA="); ok {
			caFile = v
		}
	}
	meshctl := func(args ...string) (string, string, int) {
		return harness.RunCmd(filepath.Join(bin, "meshctl"), args, env)
	}
	err = harness.Eventually(30*time.Second, func() error {
		out, errOut, code := meshctl("lease", "list", "-o", "csv")
		if code != 0 {
			return fmt.Errorf("%d %s", code, errOut)
		}
		if strings.Count(out, "\n") < 2 {
			return fmt.Errorf("no leases yet:\n%s", out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the simulated collectors hold no seats: %v", err)
	}
	out, _, _ := meshctl("collector", "list", "-o", "csv")
	if strings.Count(out, "c-") != 2 {
		t.Fatalf("want 2 simulated collectors:\n%s", out)
	}
	if out, _, code := meshctl("members", "-o", "csv"); code != 0 || strings.Count(out, ",alive,yes,") < 3 {
		t.Fatalf("want 3 voting masters:\n%s", out)
	}
	// The demo licenses are in force and grant the pools.
	if out, _, code := meshctl("license", "list", "-o", "csv"); code != 0 || strings.Count(out, ",active,") != 3 {
		t.Fatalf("want 3 active demo licenses:\n%s", out)
	}

	// Usage metering: each simulated collector's demo installation shows in
	// this month's subscriber metrics (samples every 10 s, the first within
	// one). The month is taken at each try, in case it turns meanwhile.
	for _, want := range []string{"/ui/metrics", "meshctl usage month "} {
		if !strings.Contains(p.Log(), want) {
			t.Errorf("the banner does not mention %q", want)
		}
	}
	err = harness.Eventually(30*time.Second, func() error {
		out, errOut, code := meshctl("usage", "month", time.Now().UTC().Format("2006-01"), "-o", "csv")
		if code != 0 {
			return fmt.Errorf("%d %s", code, errOut)
		}
		for _, inst := range []string{"acme-prod", "acme-test"} {
			if !strings.Contains(out, "\n"+inst+",") {
				return fmt.Errorf("no %s in this month's metrics:\n%s", inst, out)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("usage metering: %v", err)
	}

	dataDir := filepath.Dir(filepath.Dir(caFile))
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stopping := time.Now()
	if err := p.Wait(20 * time.Second); err != nil {
		t.Fatalf("meshd dev did not stop cleanly on Ctrl-C: %v", err)
	}
	// About a second: the collectors stop (releasing their seats, closing
	// their meters) while the masters still answer, then the masters.
	if took := time.Since(stopping); took > 6*time.Second {
		t.Errorf("meshd dev took %v to stop on Ctrl-C", took.Round(time.Millisecond))
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Fatalf("the temporary data dir %s is still there: %v", dataDir, err)
	}
	sc := bufio.NewScanner(strings.NewReader(p.Log()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			t.Errorf("error logged: %s", sc.Text())
		}
	}
	if !strings.Contains(p.Log(), "licmesh dev stopped") {
		t.Fatal("no goodbye line")
	}
	// The ports meshd dev used (master i: base+10i .. +2 and base+43+10i)
	// are free again. Only those: other ports in the range may be any
	// process's ephemeral ports.
	for i := range 3 {
		for _, port := range []int{base + 10*i, base + 10*i + 1, base + 10*i + 2, base + 43 + 10*i} {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				t.Errorf("port %d still taken after Ctrl-C: %v", port, err)
			} else {
				l.Close()
			}
		}
	}
}
