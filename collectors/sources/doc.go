// Package sources measures an installation for the collector: the user and
// case counts of seed 000 and the per-user observations behind seed 004's
// monthly metrics.
//
// A source is one of three kinds:
//
//   - sql: queries against PostgreSQL, MySQL/MariaDB or SQLite through
//     pure-Go drivers (pgx, go-sql-driver/mysql, modernc.org/sqlite), each
//     left out of a build by its tag (nopostgres, nomysql, nosqlite; see
//     sqldrivers.go and SQLDrivers);
//   - http: a GET returning JSON, with fields picked by path
//     ("data.users.count", "items[0].n");
//   - exec: a command (no shell) printing a number or JSON.
//
// Each yields named scalar metrics (Sample.Scalars) and, optionally, user
// snapshots and logon sessions in the types of licensing/usage. User IDs are
// replaced by a keyed hash (Pseudonym) as each row is read, so raw IDs never
// leave this package, let alone the host.
//
// # Harmless to the host (promise P8)
//
// A collection is bounded in time (the source's timeout, enforced by the
// database too: a read-only transaction with a statement timeout, lock
// waits bounded, one connection held only while in use), in memory (a row
// limit per query that fails the collection rather than reading on, byte
// limits on HTTP bodies and command output) and in processes (a command
// runs in its own process group at a lower priority, with a scrubbed
// environment, and the whole group is killed on timeout). A failing source
// is retried with exponential backoff. Nothing here ever writes to the
// product's database: SQLite files are opened read-only, PostgreSQL
// sessions default to read-only transactions, and a query that tries to
// write fails with ErrWriteRefused.
//
// # Errors and secrets
//
// New checks everything it can without reaching the product: the config,
// the DSN's syntax, the DSN file or variable, the command. Connection and
// query problems come from Collect. Every error is an *Error naming the
// source and the field ("sql.users", "http.scalars.cases") and wrapping a
// sentinel; text from drivers and servers is scrubbed of the DSN, its
// password and the bearer token before it goes into an error.
//
// # Use
//
//	jobs, err := sources.Jobs(cfgs, sources.Options{HashKey: key})
//	r, err := sources.NewRunner(jobs, sources.RunnerOptions{OnSample: spool})
//	err = r.Run(ctx)
//	for _, j := range jobs { j.Source.Close() }
//
// example-processmaker.yaml beside this file is a ready configuration for a
// ProcessMaker 3 MySQL schema.
package sources
