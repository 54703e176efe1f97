// Package fakeproduct is a ProcessMaker-like product for demos, benchmarks
// and tests: the one stand-in for the vendor's product that collectors
// meter. Its database is a SQLite file with ProcessMaker's USERS,
// APPLICATION (cases) and LOGIN_LOG tables, plus the bits seed 004's
// installation facts come from; Create fills it from a seed with the sizes
// asked for, a Product changes it as a day at the office would, and
// SourcesYAML is the collector's usage source that reads it.
//
// `make run` runs it as the demoproduct binary beside each collector
// (which also takes and gives back seats through the collector's local
// API), the benchmarks create their databases with `demoproduct create`,
// and tests use the package directly.
package fakeproduct
