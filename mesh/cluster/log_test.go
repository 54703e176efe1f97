package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHclogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	l := newHclogAdapter(base, "raft", slog.LevelWarn)

	l.Info("hidden")
	l.Warn("no known peers, aborting election") // demoted to debug, hidden
	l.Named("transport").With("peer", "m2").Warn("slow", "error", errors.New("boom"), "n", hclog.Fmt("%d items", 3))
	if !l.IsWarn() || l.IsInfo() {
		t.Fatal("level checks wrong at warn")
	}
	l.SetLevel(hclog.Debug)
	l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[ERR] broken")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), lines)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "WARN", "msg": "slow", "logger": "raft.transport", "peer": "m2", "error": "boom", "n": "3 items"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v (record %s)", k, rec[k], v, lines[0])
		}
	}
	if !strings.Contains(lines[1], `"level":"ERROR"`) || !strings.Contains(lines[1], `"msg":"broken"`) {
		t.Errorf("standard logger line = %s", lines[1])
	}
}

func TestGossipLogger(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newGossipLogger(newHclogAdapter(base, "memberlist", slog.LevelWarn))
	l.Printf("[DEBUG] memberlist: chatter")
	l.Printf("[WARN] memberlist: Refuting a dead message (from: m2)")
	out := strings.TrimSpace(buf.String())
	if strings.Contains(out, "chatter") {
		t.Fatalf("debug line not filtered: %s", out)
	}
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, `"msg":"Refuting a dead message (from: m2)"`) ||
		!strings.Contains(out, `"logger":"memberlist"`) {
		t.Fatalf("warn line = %s", out)
	}
}

func TestMetaFitsAndRoundTrips(t *testing.T) {
	m := fullMeta(map[string]string{"api_addr": "10.0.0.1:7400"}, "10.0.0.1:7401", 3, false)
	got, err := decodeMeta(encodeMeta(m))
	if err != nil {
		t.Fatal(err)
	}
	e := memberEntry{meta: got}
	if !e.isMaster() || e.raftAddr() != "10.0.0.1:7401" || e.expect() != 3 || e.hasState() {
		t.Fatalf("decoded entry = %+v", e)
	}
	if um := e.userMeta(); len(um) != 1 || um["api_addr"] != "10.0.0.1:7400" {
		t.Fatalf("userMeta = %v", um)
	}
	if _, err := decodeMeta([]byte("{not json")); err == nil {
		t.Fatal("garbage meta decoded")
	}
}
