// Package config is collectord's configuration: one typed struct read from a
// strict YAML file (unknown fields are errors), then LICMESH_* environment
// variables, then command-line flags. Validate names every bad field at once,
// so an operator fixes a file in one pass.
//
// The join token is only needed until the collector has enrolled; after that
// its identity lives in data_dir and the token may be removed from the file.
package config
