package release

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Component names: the binaries a release carries.
const (
	ComponentMeshd      = "meshd"
	ComponentCollectord = "collectord"
)

// Channels a release is offered on. Sites on beta take stable releases too.
const (
	ChannelStable = "stable"
	ChannelBeta   = "beta"
)

// Artifact is one signed file of a release, as the verified targets
// describe it.
type Artifact struct {
	// Name is the TUF target path, "<version>/<component>-<os>-<arch>",
	// e.g. "1.4.0/meshd-linux-amd64".
	Name string
	// Version is the release's semantic version without "v", e.g. "1.4.0".
	Version string
	// Component is ComponentMeshd or ComponentCollectord.
	Component string
	// OS and Arch are the GOOS and GOARCH the binary is built for.
	OS, Arch string
	// Length is the file's size in bytes.
	Length int64
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string
}

// Release is one version as the verified targets describe it.
type Release struct {
	// Version is the semantic version without "v".
	Version string
	// Channel is ChannelStable or ChannelBeta.
	Channel string
	// Released is when the vendor published it (signed).
	Released time.Time
	// Withdrawn means the vendor withdrew it: sites on it must go back.
	Withdrawn bool
	// Artifacts are its files, ordered by component, OS and architecture.
	Artifacts []Artifact
}

// targetCustom is the signed "custom" object of every artifact's target.
// Channel, release time and withdrawal are per release but TUF has nowhere
// signed to put per-release data, so every artifact of a release repeats
// them and verification insists they agree.
type targetCustom struct {
	Version   string    `json:"version"`
	Component string    `json:"component"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	Channel   string    `json:"channel"`
	Released  time.Time `json:"released"`
	Withdrawn bool      `json:"withdrawn,omitempty"`
}

// TargetName is the repository's name for the build of component for
// goos/goarch in version, as the hub serves it.
func TargetName(version, component, goos, goarch string) string {
	return version + "/" + component + "-" + goos + "-" + goarch
}

func knownComponent(c string) bool { return c == ComponentMeshd || c == ComponentCollectord }

func knownChannel(c string) bool { return c == ChannelStable || c == ChannelBeta }

// isWord is what a component, channel, GOOS or GOARCH may be spelled with:
// it keeps target names unambiguous ("-" separates them) and path-safe.
func isWord(s string) bool {
	return s != "" && len(s) <= 32 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

func decodeCustom(tf *metadata.TargetFiles) (targetCustom, error) {
	var c targetCustom
	if tf.Custom == nil {
		return c, fail(ErrMalformed, nil, "target %q has no custom fields", tf.Path)
	}
	if err := json.Unmarshal(*tf.Custom, &c); err != nil {
		return c, fail(ErrMalformed, err, "target %q custom fields", tf.Path)
	}
	return c, nil
}

func encodeCustom(c targetCustom) (*json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(b)
	return &raw, nil
}

// parseReleases reads the releases out of a targets role. A site acts on
// these fields, so a target whose signed custom fields contradict its name
// or its release's other artifacts is refused rather than guessed at.
// Components and channels this build does not know are accepted, so that a
// vendor adding one does not lock older sites out of every update.
func parseReleases(t *metadata.TargetsType) ([]Release, error) {
	byVersion := map[string]*Release{}
	for name, tf := range t.Targets {
		c, err := decodeCustom(tf)
		if err != nil {
			return nil, err
		}
		if _, ok := parseSemver(c.Version); !ok {
			return nil, fail(ErrMalformed, nil, "target %q has bad version %q", name, c.Version)
		}
		if !isWord(c.Component) || !isWord(c.OS) || !isWord(c.Arch) || !isWord(c.Channel) {
			return nil, fail(ErrMalformed, nil, "target %q has a bad component, os, arch or channel", name)
		}
		if want := TargetName(c.Version, c.Component, c.OS, c.Arch); name != want {
			return nil, fail(ErrMalformed, nil, "target %q describes itself as %q", name, want)
		}
		sum, ok := tf.Hashes["sha256"]
		if !ok || len(sum) != 32 {
			return nil, fail(ErrMalformed, nil, "target %q has no sha256", name)
		}
		if tf.Length < 0 {
			return nil, fail(ErrMalformed, nil, "target %q has negative length", name)
		}
		a := Artifact{
			Name: name, Version: c.Version, Component: c.Component, OS: c.OS, Arch: c.Arch,
			Length: tf.Length, SHA256: hex.EncodeToString(sum),
		}
		r, ok := byVersion[c.Version]
		if !ok {
			r = &Release{Version: c.Version, Channel: c.Channel, Released: c.Released.UTC(), Withdrawn: c.Withdrawn}
			byVersion[c.Version] = r
		} else if r.Channel != c.Channel || !r.Released.Equal(c.Released) || r.Withdrawn != c.Withdrawn {
			return nil, fail(ErrMalformed, nil, "target %q disagrees with the other artifacts of %s on channel, release time or withdrawal", name, c.Version)
		}
		r.Artifacts = append(r.Artifacts, a)
	}
	out := make([]Release, 0, len(byVersion))
	for _, r := range byVersion {
		slices.SortFunc(r.Artifacts, func(a, b Artifact) int {
			return cmp.Or(strings.Compare(a.Component, b.Component), strings.Compare(a.OS, b.OS), strings.Compare(a.Arch, b.Arch))
		})
		out = append(out, *r)
	}
	sortReleases(out)
	return out, nil
}

// sortReleases orders newest version first.
func sortReleases(rs []Release) {
	slices.SortFunc(rs, func(a, b Release) int { return compareSemver(b.Version, a.Version) })
}
