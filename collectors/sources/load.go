package sources

import (
	"errors"
	"fmt"
	"strings"

	"github.com/licmesh/licmesh/mesh/confload"
)

// File is a YAML document listing sources under `sources:`, the shape of
// example-processmaker.yaml and of the sources section of collectord's
// config.
type File struct {
	Sources []Config `yaml:"sources"`
}

// ParseFile decodes a File strictly (an unknown field is an error) and
// validates every source; name is used in error messages.
func ParseFile(name string, data []byte) ([]Config, error) {
	var f File
	if err := confload.Bytes(name, data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.TrimPrefix(err.Error(), "config: "))
	}
	if err := ValidateAll(f.Sources); err != nil {
		return nil, err
	}
	return f.Sources, nil
}

// LoadFile reads and parses a File.
func LoadFile(path string) ([]Config, error) {
	data, err := confload.ReadFile(path, confload.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrConfig, fileProblem(path, err))
	}
	return ParseFile(path, data)
}

// ValidateAll validates each source and that no two share a name.
func ValidateAll(cfgs []Config) error {
	var errs []error
	seen := map[string]bool{}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[c.Name] {
			errs = append(errs, &Error{Source: c.Name, Field: "name", Kind: ErrConfig, Detail: "two sources have this name"})
		}
		seen[c.Name] = true
	}
	return errors.Join(errs...)
}
