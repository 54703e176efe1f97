package release_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/release"
)

// bundleOf publishes 1.0.0 and bundles its meshd linux/amd64 and
// linux/arm64 binaries.
func bundleOf(t *testing.T) (release.RepoState, []release.Artifact, []byte) {
	t.Helper()
	r, _ := newRepo(t)
	arts := publish(t, r, t0, "1.0.0", release.ChannelStable)
	st := r.State()
	var files []release.BundleFile
	var included []release.Artifact
	for _, a := range arts {
		if a.Component != release.ComponentMeshd {
			continue
		}
		data := binary(a.Version, a.Component, a.OS, a.Arch)
		files = append(files, release.BundleFile{Name: a.Name, Size: int64(len(data)), Data: bytes.NewReader(data)})
		included = append(included, a)
	}
	var buf bytes.Buffer
	require.NoError(t, release.WriteBundle(&buf, st, files))
	return st, included, buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestBundleRoundTrip(t *testing.T) {
	st, arts, plain := bundleOf(t)
	for name, data := range map[string][]byte{"plain": plain, "gzip": gzipped(t, plain)} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			md, files, err := release.ReadBundle(bytes.NewReader(data), dir)
			require.NoError(t, err)
			assert.Equal(t, served(st), md)
			require.Len(t, files, len(arts))

			_, v := verifyOK(t, siteTrust(t, st), md, t0.Add(hour))
			for _, want := range arts {
				a, ok := v.Artifact(want.Version, want.Component, want.OS, want.Arch)
				require.True(t, ok)
				f := files[a.Name]
				assert.Equal(t, filepath.Join(dir, a.SHA256), f.Path, "spooled under its content hash")
				assert.Equal(t, a.SHA256, f.SHA256)
				assert.Equal(t, a.Length, f.Size)
				fh, err := os.Open(f.Path)
				require.NoError(t, err)
				require.NoError(t, release.VerifyArtifact(a, fh))
				require.NoError(t, fh.Close())
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, len(arts), "no temporary files left")
		})
	}
	// Same input, same bytes: bundles can be compared and cached.
	_, _, again := bundleOfState(t, st, arts)
	assert.Equal(t, plain, again)
}

func bundleOfState(t *testing.T, st release.RepoState, arts []release.Artifact) (release.RepoState, []release.Artifact, []byte) {
	t.Helper()
	var files []release.BundleFile
	for _, a := range arts {
		data := binary(a.Version, a.Component, a.OS, a.Arch)
		files = append(files, release.BundleFile{Name: a.Name, Size: int64(len(data)), Data: bytes.NewReader(data)})
	}
	var buf bytes.Buffer
	require.NoError(t, release.WriteBundle(&buf, st, files))
	return st, arts, buf.Bytes()
}

func TestBundleTamperedArtifact(t *testing.T) {
	st, arts, _ := bundleOf(t)
	a := arts[0]
	data := binary(a.Version, a.Component, a.OS, a.Arch)
	data[3] ^= 0x40
	var buf bytes.Buffer
	require.NoError(t, release.WriteBundle(&buf, st, []release.BundleFile{{Name: a.Name, Size: int64(len(data)), Data: bytes.NewReader(data)}}))

	md, files, err := release.ReadBundle(&buf, t.TempDir())
	require.NoError(t, err, "reading judges no trust")
	_, v := verifyOK(t, siteTrust(t, st), md, t0.Add(hour))
	signed, ok := v.Artifact(a.Version, a.Component, a.OS, a.Arch)
	require.True(t, ok)
	f, err := os.Open(files[a.Name].Path)
	require.NoError(t, err)
	defer f.Close()
	require.ErrorIs(t, release.VerifyArtifact(signed, f), release.ErrMismatch)
}

func TestWriteBundleRefuses(t *testing.T) {
	st, arts, _ := bundleOf(t)
	a := arts[0]
	data := binary(a.Version, a.Component, a.OS, a.Arch)
	file := func(name string, size int64, b []byte) release.BundleFile {
		return release.BundleFile{Name: name, Size: size, Data: bytes.NewReader(b)}
	}
	n := int64(len(data))
	for name, files := range map[string][]release.BundleFile{
		"not a target":   {file("1.0.0/other", n, data)},
		"wrong size":     {file(a.Name, n+1, append(bytes.Clone(data), 'x'))},
		"short data":     {{Name: a.Name, Size: n, Data: bytes.NewReader(data[:10])}},
		"twice":          {file(a.Name, n, data), file(a.Name, n, data)},
		"no data reader": {{Name: a.Name, Size: n}},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, release.WriteBundle(&bytes.Buffer{}, st, files), release.ErrBadBundle)
		})
	}
	require.ErrorIs(t, release.WriteBundle(&bytes.Buffer{}, release.RepoState{}, nil), release.ErrBadBundle)
}

// entry is one tar entry of a hand-made bundle.
type entry struct {
	name string
	typ  byte
	data []byte
	size int64 // announced size when data is nil
}

// rawTar writes entries as a tar stream without finishing it when an entry
// announces more than it carries, the way a hostile bundle would.
func rawTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.data))
		if e.data == nil && e.size > 0 {
			size = e.size
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Size: size, Mode: 0o644}
		if typ == tar.TypeSymlink {
			hdr.Linkname, hdr.Size = "/etc/passwd", 0
		}
		if typ == tar.TypeDir {
			hdr.Size = 0
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if e.data == nil && e.size > 0 {
			// The header is out; the rest is never needed.
			return buf.Bytes()
		}
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func TestReadBundleRefuses(t *testing.T) {
	st, arts, _ := bundleOf(t)
	meta := []entry{
		{name: "metadata/1.root.json", data: st.Roots[0]},
		{name: "metadata/timestamp.json", data: st.Timestamp},
		{name: "metadata/snapshot.json", data: st.Snapshot},
		{name: "metadata/targets.json", data: st.Targets},
	}
	with := func(extra ...entry) []entry { return append(append([]entry{}, meta...), extra...) }
	art := entry{name: "targets/" + arts[0].Name, data: binary("1.0.0", "meshd", "linux", "amd64")}

	t.Run("hand-made bundle with directories reads", func(t *testing.T) {
		entries := append([]entry{{name: "metadata/", typ: tar.TypeDir}, {name: "./targets/1.0.0/", typ: tar.TypeDir}}, with(art)...)
		md, files, err := release.ReadBundle(bytes.NewReader(rawTar(t, entries)), t.TempDir())
		require.NoError(t, err)
		assert.Equal(t, served(st), md)
		assert.Len(t, files, 1)
	})

	cases := map[string][]entry{
		"parent traversal":        with(entry{name: "../x", data: []byte("x")}),
		"traversal inside":        with(entry{name: "targets/../../x", data: []byte("x")}),
		"absolute":                with(entry{name: "/etc/x", data: []byte("x")}),
		"dot segment":             with(entry{name: "targets/./1.0.0/meshd-linux-amd64", data: []byte("x")}),
		"backslash":               with(entry{name: `targets\..\x`, data: []byte("x")}),
		"duplicate metadata":      with(entry{name: "metadata/targets.json", data: st.Targets}),
		"duplicate artifact":      with(art, art),
		"duplicate via dot slash": with(entry{name: "./metadata/timestamp.json", data: st.Timestamp}),
		"unknown top-level":       with(entry{name: "README", data: []byte("hi")}),
		"unknown metadata":        with(entry{name: "metadata/mirrors.json", data: []byte("{}")}),
		"nested metadata":         with(entry{name: "metadata/x/targets.json", data: []byte("{}")}),
		"root with leading zero":  with(entry{name: "metadata/01.root.json", data: st.Roots[0]}),
		"root zero":               with(entry{name: "metadata/0.root.json", data: st.Roots[0]}),
		"symlink":                 with(entry{name: "targets/1.0.0/meshd-linux-amd64", typ: tar.TypeSymlink}),
		"oversized metadata":      {{name: "metadata/targets.json", size: 16<<20 + 1}},
		"oversized artifact":      with(entry{name: "targets/1.0.0/meshd-linux-amd64", size: 1<<30 + 1}),
		"missing timestamp":       {meta[0], meta[2], meta[3]},
		"root gap":                with(entry{name: "metadata/3.root.json", data: st.Roots[0]}),
		"truncated":               {{name: "metadata/timestamp.json", size: 100}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := release.ReadBundle(bytes.NewReader(rawTar(t, entries)), dir)
			require.ErrorIs(t, err, release.ErrBadBundle)
			left, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, left, "a refused bundle leaves nothing spooled")
		})
	}

	t.Run("not a tar", func(t *testing.T) {
		_, _, err := release.ReadBundle(bytes.NewReader([]byte("hello, this is not a tar stream at all")), t.TempDir())
		require.ErrorIs(t, err, release.ErrBadBundle)
	})
	t.Run("broken gzip", func(t *testing.T) {
		_, _, err := release.ReadBundle(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), t.TempDir())
		require.ErrorIs(t, err, release.ErrBadBundle)
	})
}
