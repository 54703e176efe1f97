package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/licmesh/licmesh/e2e/bench"
)

func TestRunB0JSON(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-only", "B0", "-json", "-quiet", "-dir", t.TempDir(),
		"-fsync-samples", "5", "-tcp-samples", "20", "-udp-samples", "20"}
	if err := run(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, errOut.String())
	}
	var table bench.Table
	if err := json.Unmarshal(out.Bytes(), &table); err != nil {
		t.Fatalf("output is not a JSON table: %v\n%s", err, out.String())
	}
	if len(table) != 4 || table[0].ID != "B0" {
		t.Errorf("table: %+v", table)
	}
	if errOut.Len() != 0 {
		t.Errorf("-quiet still wrote %q", errOut.String())
	}
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
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed a table on bad input: %q", name, out.String())
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-only", "Z9"}, &out, &out); !errors.Is(err, bench.ErrUnknownMeasurement) {
		t.Errorf("unknown id: got %v", err)
	}
}

func TestRunList(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-list"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "B0\t") || !strings.Contains(out.String(), "\nB1\t") ||
		!strings.Contains(out.String(), "\nG1\t") || !strings.Contains(out.String(), "\nG6\t") {
		t.Errorf("list: %q", out.String())
	}
}
