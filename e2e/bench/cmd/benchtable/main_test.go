package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/bench"
)

func TestRunB0JSON(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-only", "B0", "-json", "-quiet", "-dir", t.TempDir(),
		"-fsync-samples", "5", "-tcp-samples", "20", "-udp-samples", "20"}
	require.NoError(t, run(t.Context(), args, &out, &errOut), "run\nstderr: %s", errOut.String())
	var table bench.Table
	require.NoError(t, json.Unmarshal(out.Bytes(), &table), "output is not a JSON table:\n%s", out.String())
	if assert.Len(t, table, 4, "table: %+v", table) {
		assert.Equal(t, "B0", table[0].ID, "table: %+v", table)
	}
	assert.Empty(t, errOut.String(), "-quiet still wrote")
}

func TestRunRejectsBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown id":       {"-only", "B0,Z9"},
		"bad concurrency":  {"-concurrency", "1,x"},
		"bad mesh level":   {"-mesh-concurrency", "64,"},
		"no collectors":    {"-collectors", "0"},
		"zero concurrency": {"-concurrency", "0"},
		"bad duration":     {"-duration", "0s"},
		"stray argument":   {"B0"},
	} {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, &out, &errOut)
		assert.Error(t, err, "%s: no error", name)
		assert.Empty(t, out.String(), "%s: printed a table on bad input", name)
	}
	var out bytes.Buffer
	assert.ErrorIs(t, run(t.Context(), []string{"-only", "Z9"}, &out, &out), bench.ErrUnknownMeasurement, "unknown id")
}

func TestRunList(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"-list"}, &out, &out))
	assert.True(t, strings.HasPrefix(out.String(), "B0\t"), "list: %q", out.String())
	for _, id := range []string{"B1", "G1", "G6"} {
		assert.Contains(t, out.String(), "\n"+id+"\t", "list")
	}
}
