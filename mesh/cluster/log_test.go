package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHclogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	l := newHclogAdapter(base, "raft", slog.LevelWarn)

	l.Info("hidden")
	l.Warn("no known peers, aborting election") // demoted to debug, hidden
	l.Named("transport").With("peer", "m2").Warn("slow", "error", errors.New("boom"), "n", hclog.Fmt("%d items", 3))
	require.True(t, l.IsWarn(), "level checks wrong at warn")
	require.False(t, l.IsInfo(), "level checks wrong at warn")
	l.SetLevel(hclog.Debug)
	l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[ERR] broken")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, "lines: %q", lines)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	want := map[string]any{"level": "WARN", "msg": "slow", "logger": "raft.transport", "peer": "m2", "error": "boom", "n": "3 items"}
	for k, v := range want {
		assert.Equal(t, v, rec[k], "%s (record %s)", k, lines[0])
	}
	assert.Contains(t, lines[1], `"level":"ERROR"`, "standard logger line")
	assert.Contains(t, lines[1], `"msg":"broken"`, "standard logger line")
}

func TestGossipLogger(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newGossipLogger(newHclogAdapter(base, "memberlist", slog.LevelWarn))
	l.Printf("[DEBUG] memberlist: chatter")
	l.Printf("[WARN] memberlist: Refuting a dead message (from: m2)")
	out := strings.TrimSpace(buf.String())
	require.NotContains(t, out, "chatter", "debug line not filtered")
	require.Contains(t, out, `"level":"WARN"`, "warn line")
	require.Contains(t, out, `"msg":"Refuting a dead message (from: m2)"`, "warn line")
	require.Contains(t, out, `"logger":"memberlist"`, "warn line")
}

func TestMetaFitsAndRoundTrips(t *testing.T) {
	m := fullMeta(map[string]string{"api_addr": "10.0.0.1:7400"}, "10.0.0.1:7401", 3, false)
	got, err := decodeMeta(encodeMeta(m))
	require.NoError(t, err)
	e := memberEntry{meta: got}
	require.True(t, e.isMaster(), "decoded entry = %+v", e)
	require.Equal(t, "10.0.0.1:7401", e.raftAddr(), "decoded entry = %+v", e)
	require.Equal(t, 3, e.expect(), "decoded entry = %+v", e)
	require.False(t, e.hasState(), "decoded entry = %+v", e)
	require.Equal(t, map[string]string{"api_addr": "10.0.0.1:7400"}, e.userMeta(), "userMeta")
	_, err = decodeMeta([]byte("{not json"))
	require.Error(t, err, "garbage meta decoded")
}
