package sources

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/licmesh/licmesh/mesh/confload"
)

// maxSecretFile bounds a DSN or token file.
const maxSecretFile = 64 << 10

// redacted replaces a secret in messages.
const redacted = "xxxxx"

// scrubber removes a source's secrets (DSN, password, token) from text that
// came from a driver, a server or a command before it goes into an error.
type scrubber struct {
	secrets []string
}

// add registers a secret and its URL-escaped forms. Longer secrets are
// replaced first, so a DSN goes before the password inside it.
func (s *scrubber) add(secret string) {
	if secret == "" {
		return
	}
	userinfo := url.UserPassword("u", secret).String()[len("u:"):]
	for _, v := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), userinfo} {
		if !slices.Contains(s.secrets, v) {
			s.secrets = append(s.secrets, v)
		}
	}
	slices.SortStableFunc(s.secrets, func(a, b string) int { return len(b) - len(a) })
}

func (s *scrubber) text(t string) string {
	for _, v := range s.secrets {
		t = strings.ReplaceAll(t, v, redacted)
	}
	return t
}

// readSecret resolves a value given inline, in a file or in an environment
// variable; the error never holds the value.
func readSecret(inline, file, env string, lookup func(string) (string, bool)) (string, error) {
	switch {
	case inline != "":
		return inline, nil
	case file != "":
		b, err := confload.ReadFile(file, maxSecretFile)
		if err != nil {
			return "", errors.New(fileProblem(file, err))
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", errors.New(file + " is empty")
		}
		return v, nil
	case env != "":
		v, ok := lookup(env)
		if !ok {
			return "", errors.New("environment variable " + env + " is not set")
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return "", errors.New("environment variable " + env + " is empty")
		}
		return v, nil
	}
	return "", errors.New("no value")
}

// fileProblem says why a file cannot be read, without the file's contents.
func fileProblem(path string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist"
	case errors.Is(err, fs.ErrPermission):
		return path + " cannot be read: permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return path + " cannot be read: " + pe.Err.Error()
	}
	return clip(err.Error())
}

// lookupEnvOrOS returns lookup, or os.LookupEnv when it is nil.
func lookupEnvOrOS(lookup func(string) (string, bool)) func(string) (string, bool) {
	if lookup == nil {
		return os.LookupEnv
	}
	return lookup
}
