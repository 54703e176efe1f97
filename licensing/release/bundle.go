package release

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Bundle layout: the offline path from hub to site.
const (
	bundleMetadataDir = "metadata/"
	bundleTargetsDir  = "targets/"

	// maxBundleMetadata bounds one metadata file, which is read into
	// memory.
	maxBundleMetadata = 16 << 20
	// maxBundleArtifact bounds one artifact, which is spooled to disk.
	maxBundleArtifact = 1 << 30
	// maxBundleRoots bounds the root chain, so that a hostile bundle of
	// many maximal roots cannot exhaust memory.
	maxBundleRoots = 1024
)

// BundleFile is one artifact to put in a bundle: its target name, its size
// and its bytes.
type BundleFile struct {
	Name string
	Size int64
	Data io.Reader
}

// BundleArtifact is an artifact ReadBundle spooled to disk: where, how
// large, and its SHA-256 as read. Nothing about it is verified yet.
type BundleArtifact struct {
	Path   string
	Size   int64
	SHA256 string
}

// WriteBundle writes st and artifacts to w as a tar stream:
// metadata/1.root.json ... metadata/N.root.json, metadata/timestamp.json,
// metadata/snapshot.json, metadata/targets.json, then targets/<name> for
// each artifact. Wrap w in a gzip.Writer to compress; ReadBundle detects
// it. Each artifact must be a target of st.Targets of the size it lists,
// so that a bundle that cannot verify is refused at the hub, not at the
// site.
func WriteBundle(w io.Writer, st RepoState, artifacts []BundleFile) error {
	if len(st.Timestamp) == 0 || len(st.Snapshot) == 0 || len(st.Targets) == 0 {
		return fail(ErrBadBundle, nil, "repository state lacks timestamp, snapshot or targets")
	}
	targets, err := metadata.Targets().FromBytes(st.Targets)
	if err != nil {
		return fail(ErrBadBundle, err, "targets.json does not parse")
	}
	tw := tar.NewWriter(w)
	// A fixed time keeps bundles of the same release byte-identical.
	mtime := time.Unix(0, 0)
	add := func(name string, size int64, r io.Reader) error {
		hdr := &tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("release: writing bundle entry %s: %w", name, err)
		}
		n, err := io.Copy(tw, r)
		if err != nil {
			return fmt.Errorf("release: writing bundle entry %s: %w", name, err)
		}
		if n != size {
			return fail(ErrBadBundle, nil, "bundle entry %s has %d bytes, %d announced", name, n, size)
		}
		return nil
	}
	addBytes := func(name string, b []byte) error {
		if len(b) > maxBundleMetadata {
			return fail(ErrBadBundle, nil, "%s is %d bytes, over the %d a site reads", name, len(b), maxBundleMetadata)
		}
		return add(name, int64(len(b)), bytes.NewReader(b))
	}
	for i, root := range st.Roots {
		if err := addBytes(fmt.Sprintf("%s%d.root.json", bundleMetadataDir, i+1), root); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"timestamp.json", st.Timestamp}, {"snapshot.json", st.Snapshot}, {"targets.json", st.Targets}} {
		if err := addBytes(bundleMetadataDir+f.name, f.data); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, a := range artifacts {
		tf, ok := targets.Signed.Targets[a.Name]
		switch {
		case !ok:
			return fail(ErrBadBundle, nil, "artifact %q is not a target of targets.json v%d", a.Name, targets.Signed.Version)
		case seen[a.Name]:
			return fail(ErrBadBundle, nil, "artifact %q given twice", a.Name)
		case a.Size != tf.Length:
			return fail(ErrBadBundle, nil, "artifact %q has size %d, its target %d", a.Name, a.Size, tf.Length)
		case a.Data == nil:
			return fail(ErrBadBundle, nil, "artifact %q has no data", a.Name)
		}
		seen[a.Name] = true
		// io.Copy stops at the announced size only by error: limit it so a
		// longer reader is reported as a size mismatch, not a tar error.
		if err := add(bundleTargetsDir+a.Name, a.Size, io.LimitReader(a.Data, a.Size)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("release: closing bundle: %w", err)
	}
	return nil
}

// ReadBundle reads a bundle (tar, plain or gzip) written by WriteBundle. It
// returns the metadata and spools every artifact into dir, which it
// creates, as dir/<sha256 hex of the content>; the map is keyed by target
// name. It refuses path traversal, links and other special entries,
// duplicate or unknown entries, artifacts over 1 GiB and metadata files
// over 16 MiB; on refusal it removes what it spooled. It does not judge
// trust: call Verify on the metadata, then VerifyArtifact on each file
// needed.
func ReadBundle(r io.Reader, dir string) (Metadata, map[string]BundleArtifact, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Metadata{}, nil, fmt.Errorf("release: creating bundle directory: %w", err)
	}
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Metadata{}, nil, fail(ErrBadBundle, err, "gzip header")
		}
		defer zr.Close()
		src = zr
	}
	b := bundleReader{dir: dir, roots: map[int][]byte{}, artifacts: map[string]BundleArtifact{}, seen: map[string]bool{}}
	md, err := b.read(tar.NewReader(src))
	if err != nil {
		for _, p := range b.spooled {
			_ = os.Remove(p)
		}
		return Metadata{}, nil, err
	}
	return md, b.artifacts, nil
}

type bundleReader struct {
	dir       string
	roots     map[int][]byte
	md        Metadata
	artifacts map[string]BundleArtifact
	seen      map[string]bool
	spooled   []string
}

func (b *bundleReader) read(tr *tar.Reader) (Metadata, error) {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Metadata{}, fail(ErrBadBundle, err, "reading tar")
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return Metadata{}, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			// Tools that re-pack a bundle add directory entries; they
			// carry nothing.
			continue
		case tar.TypeReg:
		default:
			return Metadata{}, fail(ErrBadBundle, nil, "entry %q is not a regular file", hdr.Name)
		}
		if b.seen[name] {
			return Metadata{}, fail(ErrBadBundle, nil, "duplicate entry %q", name)
		}
		b.seen[name] = true
		if hdr.Size < 0 {
			return Metadata{}, fail(ErrBadBundle, nil, "entry %q has negative size", name)
		}
		if target, ok := strings.CutPrefix(name, bundleTargetsDir); ok {
			if err := b.spool(target, hdr.Size, tr); err != nil {
				return Metadata{}, err
			}
			continue
		}
		file, ok := strings.CutPrefix(name, bundleMetadataDir)
		if !ok || strings.Contains(file, "/") {
			return Metadata{}, fail(ErrBadBundle, nil, "unknown entry %q", name)
		}
		if err := b.metadata(file, hdr.Size, tr); err != nil {
			return Metadata{}, err
		}
	}
	if b.md.Timestamp == nil || b.md.Snapshot == nil || b.md.Targets == nil {
		return Metadata{}, fail(ErrBadBundle, nil, "bundle lacks metadata/timestamp.json, snapshot.json or targets.json")
	}
	versions := slices.Sorted(func(yield func(int) bool) {
		for v := range b.roots {
			if !yield(v) {
				return
			}
		}
	})
	for i, v := range versions {
		if i > 0 && v != versions[i-1]+1 {
			return Metadata{}, fail(ErrBadBundle, nil, "root chain has a gap: %d.root.json follows %d.root.json", v, versions[i-1])
		}
		b.md.Roots = append(b.md.Roots, b.roots[v])
	}
	return b.md, nil
}

// entryName checks a tar entry name is a plain relative path and returns
// it without a leading "./" or trailing "/".
func entryName(raw string) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(raw, "./"), "/")
	bad := name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) ||
		strings.ContainsRune(name, 0) || path.Clean(name) != name
	for seg := range strings.SplitSeq(name, "/") {
		if seg == ".." || seg == "." {
			bad = true
		}
	}
	if bad {
		return "", fail(ErrBadBundle, nil, "entry name %q is not a plain relative path", raw)
	}
	return name, nil
}

func (b *bundleReader) metadata(file string, size int64, r io.Reader) error {
	if size > maxBundleMetadata {
		return fail(ErrBadBundle, nil, "metadata/%s is %d bytes, over %d", file, size, maxBundleMetadata)
	}
	var dst *[]byte
	switch file {
	case "timestamp.json":
		dst = &b.md.Timestamp
	case "snapshot.json":
		dst = &b.md.Snapshot
	case "targets.json":
		dst = &b.md.Targets
	default:
		vs, ok := strings.CutSuffix(file, ".root.json")
		v, err := strconv.Atoi(vs)
		if !ok || err != nil || v < 1 || strconv.Itoa(v) != vs {
			return fail(ErrBadBundle, nil, "unknown entry %q", bundleMetadataDir+file)
		}
		if len(b.roots) >= maxBundleRoots {
			return fail(ErrBadBundle, nil, "more than %d roots", maxBundleRoots)
		}
		data, err := readAll(file, r, size)
		if err != nil {
			return err
		}
		b.roots[v] = data
		return nil
	}
	data, err := readAll(file, r, size)
	if err != nil {
		return err
	}
	*dst = data
	return nil
}

func readAll(file string, r io.Reader, size int64) ([]byte, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fail(ErrBadBundle, err, "reading metadata/%s", file)
	}
	return data, nil
}

// spool copies an artifact to a temporary file while hashing it, then
// names it by its hash, so that the name a site opens is the content it
// verifies and a tar name never becomes a file name.
func (b *bundleReader) spool(target string, size int64, r io.Reader) error {
	if size > maxBundleArtifact {
		return fail(ErrBadBundle, nil, "artifact %q is %d bytes, over %d", target, size, maxBundleArtifact)
	}
	f, err := os.CreateTemp(b.dir, ".spool-*")
	if err != nil {
		return fmt.Errorf("release: spooling artifact %q: %w", target, err)
	}
	b.spooled = append(b.spooled, f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			return fmt.Errorf("release: spooling artifact %q: %w", target, err)
		}
		return fail(ErrBadBundle, err, "reading artifact %q", target)
	}
	if n != size {
		return fail(ErrBadBundle, nil, "artifact %q has %d bytes, %d announced", target, n, size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := filepath.Join(b.dir, sum)
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("release: spooling artifact %q: %w", target, err)
	}
	b.spooled[len(b.spooled)-1] = dst
	b.artifacts[target] = BundleArtifact{Path: dst, Size: n, SHA256: sum}
	return nil
}
