package sources

import (
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Which SQL drivers a collectord links is chosen when it is built. The
// collector's resident memory is mostly its own code: the kernel maps the
// binary's pages around every fault, and package initialisers alone touch
// most of the image, so nearly all of it stays resident, drivers never
// used included; the drivers are a third of it. A driver therefore lives
// in sqldriver_<name>.go, compiled unless its build tag (nopostgres,
// nomysql, nosqlite) is given, and sqldriver_<name>_off.go stands in for
// it otherwise, so that a source naming a driver the binary lacks fails at
// start saying which binary or tag has it. A plain go build has every
// driver; the Makefile's collectord has the typical site's, MySQL only
// (docs/usage.md).

// applicationName is how the collector shows up in the database's session
// lists, so a DBA can tell its sessions apart.
const applicationName = "licmesh-collector"

// sqlDriver is one database driver as a SQL source uses it.
type sqlDriver struct {
	// name is the config's sql.driver value.
	name string
	// offTag is the build tag that leaves the driver out.
	offTag string
	// open returns a pool for dsn, set up read-only with the source's
	// timeout, and adds the DSN's password to scrub. It is nil when the
	// driver is not built in.
	open func(dsn string, timeout time.Duration, scrub *scrubber) (*sql.DB, error)
	// classify returns the sentinel for an error from this driver:
	// ErrWriteRefused, ErrTimeout, ErrConnect or ErrQuery.
	classify func(err error) error
}

// built reports whether the driver is compiled into this binary.
func (d sqlDriver) built() bool { return d.open != nil }

// sqlDrivers returns every driver a source may name, built in or not.
func sqlDrivers() []sqlDriver {
	return []sqlDriver{postgresDriver(), mysqlDriver(), sqliteDriver()}
}

// lookupDriver returns the driver named name; ok is false for a name no
// build knows.
func lookupDriver(name string) (d sqlDriver, ok bool) {
	for _, d := range sqlDrivers() {
		if d.name == name {
			return d, true
		}
	}
	return sqlDriver{}, false
}

// SQLDrivers returns the names of the SQL drivers built into this binary,
// in the order postgres, mysql, sqlite.
func SQLDrivers() []string {
	var names []string
	for _, d := range sqlDrivers() {
		if d.built() {
			names = append(names, d.name)
		}
	}
	return names
}

// notBuilt says that d is missing from this binary and which binaries
// have it: collectord-full, which make build builds beside the default
// collectord, or one built without d's tag.
func notBuilt(d sqlDriver, have []string) string {
	has := "no SQL driver"
	if len(have) > 0 {
		has = "only " + strings.Join(have, ", ")
	}
	return fmt.Sprintf("the %s driver is not built into this collectord (it has %s): "+
		"run collectord-full, which has every driver, or a collectord built without the %q build tag",
		d.name, has, d.offTag)
}
