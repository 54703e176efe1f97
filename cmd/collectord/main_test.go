package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/localapi"
)

// execute runs the CLI with args and returns its output and error.
func execute(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	err := runCommandLine(ctx, args, &out, &out)
	return out.String(), err
}

func TestRunRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field": {"masters: [m1]\nmastrs: [m2]\n", `unknown field "mastrs"`},
		"bad port":      {"masters: [m1, \"x:y\"]\n", `masters[1] "x:y": invalid port`},
		"public listen": {"masters: [m1]\nlisten: 0.0.0.0:7480\ndata_dir: " + dir + "\n", "must not listen on all interfaces"},
		"no token":      {"masters: [m1]\ndata_dir: " + dir + "\nsocket: ''\nlisten: ''\n", "join token"},
		"missing data":  {"masters: [m1]\ndata_dir: ''\n", "data_dir: is required"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(file, []byte(tc.yaml), 0o600)
			_, err := execute(context.Background(), "run", "--config", file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := execute(context.Background(), "run", "--config", filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing config file accepted")
	}
}

// TestRunFlags: a flag given on the command line overrides the file, even
// to empty; one not given leaves the file's value alone.
func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("masters: [m1]\nlisten: 0.0.0.0:7480\nsocket: ''\ndata_dir: "+dir+"\n"), 0o600)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"file as is":        {nil, "must not listen on all interfaces"},
		"listen overridden": {[]string{"--listen", "127.0.0.1:7480"}, "join token"},
		"single dash, =":    {[]string{"-listen=127.0.0.1:7480"}, "join token"},
		"masters, commas":   {[]string{"--listen=", "--masters", "m1,x:y"}, `masters[1] "x:y": invalid port`},
		"masters, repeated": {[]string{"--listen=", "--masters", "m1", "--masters=m2,x:z"}, `masters[2] "x:z": invalid port`},
		"set to empty":      {[]string{"--listen=", "--data-dir="}, "data_dir: is required"},
		"bad int":           {[]string{"--max-leases", "many"}, `invalid value "many" for flag -max-leases`},
		"unknown flag":      {[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		"stray argument":    {[]string{"extra"}, `run: unexpected argument "extra"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := execute(context.Background(), append([]string{"run", "-c", file}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"--help"}} {
		out, err := execute(context.Background(), args...)
		if err != nil || !strings.Contains(out, "Commands:") || !strings.Contains(out, "status ") {
			t.Errorf("%q: %v\n%s", args, err, out)
		}
	}
	out, err := execute(context.Background(), "run", "-h")
	if err != nil || !strings.Contains(out, "Usage: collectord run") || !strings.Contains(out, "-release-on-shutdown") {
		t.Errorf("run -h: %v\n%s", err, out)
	}
	if _, err := execute(context.Background(), "frobnicate"); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestRunAndStatus(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.sock")
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte(strings.Join([]string{
		"masters: [" + m.Addr() + "]",
		"token: " + c.Token(),
		"data_dir: " + filepath.Join(dir, "data"),
		"listen: ''",
		"socket: " + sock,
		"transport: tcp",
		"log_level: warn",
	}, "\n")), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := execute(ctx, "run", "-c", file)
		done <- err
	}()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://collectord/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collectord not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := client.Post("http://collectord/v1/leases", "application/json", strings.NewReader(`{"pool":"seats","holder":"alice"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("acquire over the socket: %v %v", resp, err)
	}
	resp.Body.Close()

	out, err := execute(context.Background(), "status", "-o", "json", "--socket", sock)
	if err != nil {
		t.Fatal(err)
	}
	var st localapi.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status json %q: %v", out, err)
	}
	if st.CollectorID == "" || st.Leases.Valid != 1 || st.Protocol != "h2" || st.CurrentMaster != m.Addr() {
		t.Fatalf("status: %+v", st)
	}
	out, err = execute(context.Background(), "status", "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out)
	for _, want := range []string{"collector", st.CollectorID, "via h2", "1 held (1 valid, 0 expired)", "certificate"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q", want)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := len(c.Leases()); n != 0 {
		t.Fatalf("%d leases left at the masters after SIGTERM-like stop", n)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := execute(context.Background(), "status", "--socket", sock); err == nil || !strings.Contains(err.Error(), "is collectord running") {
		t.Fatalf("status with no collector: %v", err)
	}
}

func TestVersion(t *testing.T) {
	out, err := execute(context.Background(), "version")
	if err != nil || !strings.Contains(out, "collectord dev (collector protocol 1)") {
		t.Fatalf("version: %q %v", out, err)
	}
	if _, err := execute(context.Background(), "status", "-o", "yaml"); err == nil {
		t.Fatal("-o yaml accepted")
	}
}
