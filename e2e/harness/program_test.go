package harness

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, err, "clean run")
	require.False(t, p.Failed(), "clean run failed")
	assert.Contains(t, out.String(), "prog: hello 7\n", "log")

	reached := false
	err = p.Do(func() {
		p.Fatalf("cluster not ready: %s", "no leader")
		reached = true
	})
	if assert.ErrorIs(t, err, ErrFatal, "Fatalf") {
		assert.ErrorContains(t, err, "no leader", "Fatalf")
	}
	assert.False(t, reached, "Fatalf: the function ran on")
	assert.True(t, p.Failed(), "Failed() is false after Fatal, so DumpOnFailure would stay silent")
	assert.ErrorIs(t, p.Do(func() { p.Error("soft") }), ErrFatal, "Error")
	assert.NoError(t, p.Do(func() {}), "a later clean Do")
	assert.ErrorIs(t, p.Do(func() { p.Skip("not here") }), ErrSkipped, "Skip")
	assert.True(t, p.Skipped(), "Skipped() after Skip")

	ctx := p.Context()
	p.Close()
	assert.Equal(t, []int{2, 1}, order, "cleanups ran in this order, want last registered first")
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "TempDir %s survived Close", dir)
	assert.Error(t, ctx.Err(), "Context not cancelled by Close")
	p.Close() // a second Close is harmless
}

func TestProgramTBLetsOtherPanicsThrough(t *testing.T) {
	p := NewProgramTB("prog", t.TempDir(), nil)
	defer p.Close()
	defer func() {
		assert.Equal(t, "boom", recover(), "recovered, want the original panic")
	}()
	_ = p.Do(func() { panic("boom") })
}
