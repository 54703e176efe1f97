//go:build nomysql

package sources

// mysqlDriver stands in for the mysql driver, left out of this
// build by the nomysql tag: a source naming it fails at start
// (sqldrivers.go).
func mysqlDriver() sqlDriver { return sqlDriver{name: DriverMySQL, offTag: "nomysql"} }
