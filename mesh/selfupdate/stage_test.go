package selfupdate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStage(t *testing.T) {
	ctx := context.Background()
	v2 := builds["2.0.0"]
	exe := install(t, "1.0.0")
	require.NoError(t, Stage(ctx, exe, bytes.NewReader(v2), int64(len(v2)), sum(v2), "2.0.0"))
	requireContent(t, exe+NextSuffix, "2.0.0")
	fi, err := os.Stat(exe + NextSuffix)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), ".next mode")
	requireContent(t, exe, "1.0.0")

	require.NoError(t, Discard(exe))
	require.NoFileExists(t, exe+NextSuffix)
	require.NoError(t, Discard(exe), "Discard with nothing staged")
}

func TestStageRefuses(t *testing.T) {
	ctx := context.Background()
	v2 := builds["2.0.0"]
	size := int64(len(v2))
	script := []byte("#!/bin/sh\necho 'no such luck' >&2\nexit 1\n")
	for name, tc := range map[string]struct {
		r       io.Reader
		size    int64
		sha     string
		version string
		is      error
		msg     string
	}{
		"wrong hash":       {bytes.NewReader(v2), size, sum(builds["1.0.0"]), "2.0.0", ErrChecksum, "want"},
		"not a hash":       {bytes.NewReader(v2), size, "abc", "2.0.0", ErrChecksum, "not a hex SHA-256"},
		"longer than size": {bytes.NewReader(v2), size - 1, sum(v2[:size-1]), "2.0.0", ErrSize, "more than"},
		"shorter":          {bytes.NewReader(v2), size + 1, sum(v2), "2.0.0", ErrSize, "announced"},
		"no size":          {bytes.NewReader(v2), 0, sum(v2), "2.0.0", ErrSize, "0 bytes"},
		"wrong version":    {bytes.NewReader(v2), size, sum(v2), "3.0.0", ErrVersion, `says version "2.0.0", want "3.0.0"`},
		"exits 1":          {bytes.NewReader(script), int64(len(script)), sum(script), "2.0.0", ErrVersion, "no such luck"},
		"read error":       {io.MultiReader(bytes.NewReader(v2[:100]), iotest.ErrReader(errors.New("connection reset"))), size, sum(v2), "2.0.0", nil, "connection reset"},
	} {
		t.Run(name, func(t *testing.T) {
			exe := install(t, "1.0.0")
			err := Stage(ctx, exe, tc.r, tc.size, tc.sha, tc.version)
			require.Error(t, err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.ErrorContains(t, err, tc.msg)
			require.NoFileExists(t, exe+NextSuffix, ".next left after a failed stage")
			requireContent(t, exe, "1.0.0")
		})
	}
}

func TestStageUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	exe := install(t, "1.0.0")
	dir := filepath.Dir(exe)
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	v2 := builds["2.0.0"]
	err := Stage(context.Background(), exe, bytes.NewReader(v2), int64(len(v2)), sum(v2), "2.0.0")
	require.ErrorIs(t, err, os.ErrPermission)
}

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]string{
		"1.4.0\n":             "1.4.0",
		"  v1.4.0-3-gabc  \n": "v1.4.0-3-gabc",
		"collectord 1.4.0 (collector protocol 1)\n":   "1.4.0",
		"collectord dev (collector protocol 1)\nmore": "dev",
		"":      "",
		"\n \n": "",
	} {
		assert.Equal(t, want, ParseVersion(out), "ParseVersion(%q)", out)
	}
}
