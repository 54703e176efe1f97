package release

import "strings"

// The go.mod has no semver library the licensing layer may import, and the
// subset needed is small: SemVer 2.0.0 precedence over MAJOR.MINOR.PATCH
// with an optional pre-release. Build metadata ("+...") is refused, because
// two versions differing only in it have equal precedence and "newest"
// would be ambiguous.

type semver struct {
	core [3]string // numeric, no leading zeros
	pre  []string  // pre-release identifiers; none for a release
}

func parseSemver(v string) (semver, bool) {
	var s semver
	if v == "" || strings.ContainsAny(v, "+ ") {
		return s, false
	}
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		if !isNumeric(p) {
			return s, false
		}
		s.core[i] = p
	}
	if hasPre {
		s.pre = strings.Split(pre, ".")
		for _, id := range s.pre {
			if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
				return s, false
			}
			if allDigits(id) && !isNumeric(id) {
				return s, false
			}
		}
	}
	return s, true
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// isNumeric is a SemVer numeric identifier: digits without a leading zero.
func isNumeric(s string) bool {
	return allDigits(s) && (s == "0" || s[0] != '0')
}

// cmpNumeric compares numeric identifiers of any length without overflow.
func cmpNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compareSemver orders valid versions by SemVer precedence; invalid ones
// sort before valid ones, and among themselves by string.
func compareSemver(a, b string) int {
	sa, okA := parseSemver(a)
	sb, okB := parseSemver(b)
	switch {
	case !okA && !okB:
		return strings.Compare(a, b)
	case !okA:
		return -1
	case !okB:
		return 1
	}
	for i := range sa.core {
		if c := cmpNumeric(sa.core[i], sb.core[i]); c != 0 {
			return c
		}
	}
	// A release outranks its pre-releases.
	switch {
	case len(sa.pre) == 0 && len(sb.pre) == 0:
		return 0
	case len(sa.pre) == 0:
		return 1
	case len(sb.pre) == 0:
		return -1
	}
	for i := 0; i < len(sa.pre) && i < len(sb.pre); i++ {
		x, y := sa.pre[i], sb.pre[i]
		nx, ny := allDigits(x), allDigits(y)
		var c int
		switch {
		case nx && ny:
			c = cmpNumeric(x, y)
		case nx:
			c = -1
		case ny:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(sa.pre) < len(sb.pre):
		return -1
	case len(sa.pre) > len(sb.pre):
		return 1
	}
	return 0
}
