package selfupdate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// staged returns an exe of version 1.0.0 with 2.0.0 staged beside it.
func staged(t *testing.T) string {
	t.Helper()
	exe := install(t, "1.0.0")
	v2 := builds["2.0.0"]
	require.NoError(t, Stage(context.Background(), exe, bytes.NewReader(v2), int64(len(v2)), sum(v2), "2.0.0"))
	return exe
}

func TestSwapAndRevert(t *testing.T) {
	ctx := context.Background()
	exe := staged(t)
	require.NoError(t, Swap(exe))
	got, err := RunVersion(ctx, exe)
	require.NoError(t, err)
	assert.Equal(t, "2.0.0", got, "exe after Swap")
	prev, err := PrevVersion(ctx, exe)
	require.NoError(t, err)
	assert.Equal(t, "1.0.0", prev, ".prev after Swap")
	assert.NoFileExists(t, exe+NextSuffix)

	require.NoError(t, Revert(exe))
	requireContent(t, exe, "1.0.0")
	requireContent(t, exe+PrevSuffix, "2.0.0")
	fi, err := os.Stat(exe)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "exe mode after Revert")

	// A revert can be reverted: a rollback that fails its trial goes back.
	require.NoError(t, Revert(exe))
	requireContent(t, exe, "2.0.0")
	requireContent(t, exe+PrevSuffix, "1.0.0")

	entries, err := os.ReadDir(filepath.Dir(exe))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"collectord", "collectord.prev"}, names, "files beside the binary")
}

func TestSwapNeedsStaged(t *testing.T) {
	exe := install(t, "1.0.0")
	require.ErrorIs(t, Swap(exe), ErrNoNext)
	requireContent(t, exe, "1.0.0")
	require.NoFileExists(t, exe+PrevSuffix)
}

func TestNoPrev(t *testing.T) {
	exe := install(t, "1.0.0")
	require.ErrorIs(t, Revert(exe), ErrNoPrev)
	v, err := PrevVersion(context.Background(), exe)
	require.ErrorIs(t, err, ErrNoPrev)
	require.Empty(t, v)
	requireContent(t, exe, "1.0.0")
}

func TestCopyFallback(t *testing.T) {
	exe := install(t, "2.0.0")
	dst := exe + ".copy"
	require.NoError(t, copyFile(exe, dst))
	requireContent(t, dst, "2.0.0")
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	a, _ := os.Stat(exe)
	assert.False(t, os.SameFile(a, fi), "a copy, not a link")
}
