//go:build nosqlite

package sources

// sqliteDriver stands in for the sqlite driver, left out of this
// build by the nosqlite tag: a source naming it fails at start
// (sqldrivers.go).
func sqliteDriver() sqlDriver { return sqlDriver{name: DriverSQLite, offTag: "nosqlite"} }
