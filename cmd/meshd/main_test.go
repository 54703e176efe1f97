package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

func runArgs(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestKeygenMakesAUsableSecret(t *testing.T) {
	out, _, code := runArgs("keygen")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil || len(b) != 32 {
		t.Fatalf("keygen printed %q", out)
	}
	again, _, _ := runArgs("keygen")
	if again == out {
		t.Fatal("two secrets are the same")
	}
}

func TestBadInvocationsFailWithAMessage(t *testing.T) {
	secret := "LICMESH_CLUSTER_SECRET=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	t.Setenv("LICMESH_CLUSTER_SECRET", "")
	for _, tc := range []struct {
		args []string
		env  string
		want string
		code int
	}{
		{[]string{"agent", "--node-id", "m1", "--data-dir", t.TempDir()}, "", "cluster_secret", 1},
		{[]string{"agent", "--node-id", "m1", "--data-dir", t.TempDir(), "--bootstrap-expect", "4"}, secret, "bootstrap_expect", 1},
		{[]string{"agent", "--node-id", "m1", "--data-dir", t.TempDir(), "--api-addr", "nowhere"}, secret, "api_addr", 1},
		{[]string{"agent", "--node-id", "m1", "--data-dir", t.TempDir(), "--bootstrap-expect", "0"}, secret, "join", 1},
		{[]string{"dev", "--base-port", "80"}, "", "base-port", 2},
		{[]string{"dev", "--collectors", "-1"}, "", "collectors", 2},
		{[]string{"no-such-command"}, "", "unknown command", 1},
	} {
		if tc.env != "" {
			k, v, _ := strings.Cut(tc.env, "=")
			t.Setenv(k, v)
		}
		_, errOut, code := runArgs(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("meshd %v: exit %d (want %d), stderr %q, want mention of %q", tc.args, code, tc.code, errOut, tc.want)
		}
		t.Setenv("LICMESH_CLUSTER_SECRET", "")
	}
}
