package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// freeBase finds a base port whose whole `meshctl dev` range is free.
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
		for _, off := range []int{80, 81, 100} {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off)); err == nil {
				l.Close()
			} else {
				ok = false
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range for meshctl dev")
	return 0
}

// TestDevSystem runs `meshctl dev` (what `make run` runs) as a newcomer
// would: it comes up as real meshd, collectord and demoproduct processes,
// prints a working admin token and meshctl settings, the demo products'
// users take seats through their collectors, the collectors meter their
// installations' usage, a collector killed under it is restarted, and
// Ctrl-C stops every child cleanly and removes the data it made.
func TestDevSystem(t *testing.T) {
	bin, err := harness.Binaries()
	require.NoError(t, err)
	base := freeBase(t)
	logPath := filepath.Join(t.TempDir(), "dev.log")
	p, err := harness.StartProc("meshctl-dev", filepath.Join(bin, "meshctl"),
		[]string{"dev", "--base-port", fmt.Sprint(base), "--collectors", "2"}, []string{"TMPDIR=" + t.TempDir()}, logPath)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	harness.DumpOnFailure(t, func() *harness.Proc { return p })

	exportLine := regexp.MustCompile(`export (LICMESH_ADDR=\S+ LICMESH_CA=\S+ LICMESH_TOKEN=\S+)`)
	require.Eventually(t, func() bool { return exportLine.MatchString(p.Log()) }, 60*time.Second, 50*time.Millisecond, "the banner")
	exports := exportLine.FindStringSubmatch(p.Log())[1]
	var env []string
	var caFile string
	for _, kv := range strings.Fields(exports) {
		env = append(env, kv)
		if v, ok := strings.CutPrefix(kv, "LICMESH_CA="); ok {
			caFile = v
		}
	}
	dataDir := filepath.Dir(filepath.Dir(caFile))
	meshctl := func(args ...string) (string, string, int) {
		return harness.RunCmd(filepath.Join(bin, "meshctl"), args, env)
	}
	// Every child is a real process of the installed binaries; the
	// collectors run collectord-full, since the demo products' databases are
	// SQLite (the default collectord has the MySQL driver only).
	for _, want := range []string{"hubd run", "meshd run", "collectord-full run", "demoproduct run"} {
		assert.NotEmpty(t, processesWith(dataDir, want), "no %q process", want)
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, errOut, code := meshctl("lease", "list", "-o", "csv")
		require.Equal(c, 0, code, errOut)
		assert.GreaterOrEqual(c, strings.Count(out, "\n"), 2, "no leases yet:\n%s", out)
	}, 30*time.Second, 50*time.Millisecond, "the demo products' users hold no seats")
	out, _, _ := meshctl("collector", "list", "-o", "csv")
	require.Equal(t, 2, strings.Count(out, "c-"), "want 2 collectors:\n%s", out)
	out, _, code := meshctl("members", "-o", "csv")
	require.Equal(t, 0, code)
	require.GreaterOrEqual(t, strings.Count(out, ",alive,yes,"), 3, "want 3 voting masters:\n%s", out)
	// The demo licenses were issued by the dev system's hub, are in force
	// and grant the pools.
	out, _, code = meshctl("license", "list", "-o", "csv")
	require.Equal(t, 0, code)
	require.Equal(t, 3, strings.Count(out, ",active,"), "want 3 active demo licenses:\n%s", out)
	assert.Equal(t, 3, strings.Count(out, "\nlic_"), "issued by the hub (its license IDs):\n%s", out)
	assert.Contains(t, p.Log(), fmt.Sprintf("Vendor hub:   https://127.0.0.1:%d", base+100))

	// Usage metering: each collector's demo installation shows in this
	// month's subscriber metrics (samples every 10 s, the first within
	// one). The month is taken at each try, in case it turns meanwhile.
	for _, want := range []string{"/ui/metrics", "meshctl usage month "} {
		assert.Contains(t, p.Log(), want, "the banner does not mention it")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, errOut, code := meshctl("usage", "month", time.Now().UTC().Format("2006-01"), "-o", "csv")
		require.Equal(c, 0, code, errOut)
		for _, inst := range []string{"acme-prod", "acme-test"} {
			assert.Contains(c, out, "\n"+inst+",", "no %s in this month's metrics", inst)
		}
	}, 30*time.Second, 50*time.Millisecond, "usage metering")

	// The dev cluster is activated with the dev hub and its usage reaches
	// the hub: the hub acknowledges batches of it.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, errOut, code := meshctl("upstream", "-o", "json")
		require.Equal(c, 0, code, errOut)
		var up struct {
			Activated bool   `json:"activated"`
			Acked     string `json:"acked_seq"`
			Company   string `json:"company_name"`
		}
		require.NoError(c, json.Unmarshal([]byte(out), &up))
		assert.True(c, up.Activated, "activated")
		assert.Equal(c, "Demo Customer", up.Company)
		assert.NotEmpty(c, up.Acked, "no usage batch acknowledged by the hub yet:\n%s", out)
	}, 60*time.Second, 200*time.Millisecond, "usage synced to the hub")

	// Supervised: a collector killed under it is restarted, and comes back
	// with its identity (still two collectors).
	pids := processesWith(dataDir, "collectord-full run")
	require.NotEmpty(t, pids)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, p.Log(), "restarting in", "no restart logged")
		assert.Len(c, processesWith(dataDir, "collectord-full run"), 2, "collectord processes")
	}, 20*time.Second, 50*time.Millisecond, "the killed collector is restarted")
	out, _, _ = meshctl("collector", "list", "-o", "csv")
	require.Equal(t, 2, strings.Count(out, "c-"), "the restarted collector enrolled again instead of coming back:\n%s", out)

	require.NoError(t, p.Signal(syscall.SIGINT))
	stopping := time.Now()
	require.NoError(t, p.Wait(30*time.Second), "meshctl dev did not stop cleanly on Ctrl-C")
	// A few seconds: the collectors stop (releasing their seats, closing
	// their meters) while the masters still answer, then the masters.
	assert.Less(t, time.Since(stopping), 10*time.Second, "meshctl dev took too long to stop on Ctrl-C")
	assert.Empty(t, processesWith(dataDir, ""), "children left running after Ctrl-C")
	_, err = os.Stat(dataDir)
	require.True(t, os.IsNotExist(err), "the temporary data dir %s is still there: %v", dataDir, err)
	sc := bufio.NewScanner(strings.NewReader(p.Log()))
	for sc.Scan() {
		assert.NotContains(t, sc.Text(), "level=ERROR", "error logged")
	}
	require.Contains(t, p.Log(), "licmesh dev stopped", "no goodbye line")
	// The ports meshctl dev used (master i: base+10i .. +2 and base+43+10i)
	// are free again. Only those: other ports in the range may be any
	// process's ephemeral ports.
	for i := range 3 {
		for _, port := range []int{base + 10*i, base + 10*i + 1, base + 10*i + 2, base + 43 + 10*i} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if assert.NoError(t, err, "port %d still taken after Ctrl-C", port) {
				l.Close()
			}
		}
	}
}

// processesWith lists the processes whose command line names dir and
// contains what (all of them for an empty what).
func processesWith(dir, what string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, dir) && strings.Contains(cmdline, what) {
			pids = append(pids, pid)
		}
	}
	return pids
}
