//go:build nopostgres

package sources

// postgresDriver stands in for the postgres driver, left out of this
// build by the nopostgres tag: a source naming it fails at start
// (sqldrivers.go).
func postgresDriver() sqlDriver { return sqlDriver{name: DriverPostgres, offTag: "nopostgres"} }
