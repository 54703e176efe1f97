package harness

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestProgramTB(t *testing.T) {
	var out bytes.Buffer
	p := NewProgramTB("prog", t.TempDir(), &out)
	var order []int
	var dir string
	err := p.Do(func() {
		dir = p.TempDir()
		p.Cleanup(func() { order = append(order, 1) })
		p.Cleanup(func() { order = append(order, 2); p.Fatal("a cleanup fails alone") })
		p.Logf("hello %d", 7)
	})
	if err != nil || p.Failed() {
		t.Fatalf("clean run: %v, failed %v", err, p.Failed())
	}
	if !strings.Contains(out.String(), "prog: hello 7\n") {
		t.Errorf("log %q", out.String())
	}

	reached := false
	err = p.Do(func() {
		p.Fatalf("cluster not ready: %s", "no leader")
		reached = true
	})
	if !errors.Is(err, ErrFatal) || !strings.Contains(err.Error(), "no leader") || reached {
		t.Errorf("Fatalf: %v, ran on: %v", err, reached)
	}
	if !p.Failed() {
		t.Error("Failed() is false after Fatal, so DumpOnFailure would stay silent")
	}
	if err := p.Do(func() { p.Error("soft") }); !errors.Is(err, ErrFatal) {
		t.Errorf("Error: %v", err)
	}
	if err := p.Do(func() {}); err != nil {
		t.Errorf("a later clean Do: %v", err)
	}
	if err := p.Do(func() { p.Skip("not here") }); !errors.Is(err, ErrSkipped) || !p.Skipped() {
		t.Errorf("Skip: %v", err)
	}

	ctx := p.Context()
	p.Close()
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Errorf("cleanups ran in order %v, want last registered first", order)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("TempDir %s survived Close: %v", dir, err)
	}
	if ctx.Err() == nil {
		t.Error("Context not cancelled by Close")
	}
	p.Close() // a second Close is harmless
}

func TestProgramTBLetsOtherPanicsThrough(t *testing.T) {
	p := NewProgramTB("prog", t.TempDir(), nil)
	defer p.Close()
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the original panic", r)
		}
	}()
	_ = p.Do(func() { panic("boom") })
}
