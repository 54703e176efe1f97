package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runArgs(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestKeygenMakesAUsableSecret(t *testing.T) {
	out, _, code := runArgs("keygen")
	require.Equal(t, 0, code)
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	require.NoError(t, err, "keygen printed %q", out)
	require.Len(t, b, 32, "keygen printed %q", out)
	again, _, _ := runArgs("keygen")
	assert.NotEqual(t, out, again, "two secrets are the same")
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
		{[]string{"run", "--node-id", "m1", "--data-dir", t.TempDir()}, "", "cluster_secret", 1},
		{[]string{"run", "--node-id", "m1", "--data-dir", t.TempDir(), "--bootstrap-expect", "4"}, secret, "bootstrap_expect", 1},
		{[]string{"run", "--node-id", "m1", "--data-dir", t.TempDir(), "--api-addr", "nowhere"}, secret, "api_addr", 1},
		{[]string{"run", "--node-id", "m1", "--data-dir", t.TempDir(), "--bootstrap-expect", "0"}, secret, "join", 1},
		// The old name of the command still works.
		{[]string{"agent", "--node-id", "m1", "--data-dir", t.TempDir()}, "", "cluster_secret", 1},
		// A master and nothing else: the dev system moved to meshctl dev.
		{[]string{"dev"}, "", "unknown command", 1},
		{[]string{"no-such-command"}, "", "unknown command", 1},
	} {
		if tc.env != "" {
			k, v, _ := strings.Cut(tc.env, "=")
			t.Setenv(k, v)
		}
		_, errOut, code := runArgs(tc.args...)
		assert.Equal(t, tc.code, code, "meshd %v: stderr %q", tc.args, errOut)
		assert.Contains(t, errOut, tc.want, "meshd %v", tc.args)
		t.Setenv("LICMESH_CLUSTER_SECRET", "")
	}
}
