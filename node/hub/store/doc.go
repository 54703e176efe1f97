// Package store is the vendor hub's database: one schema, migrated at open
// by goose from the SQL embedded here, on embedded SQLite (modernc, no cgo)
// by default or on PostgreSQL (pgx) when the hub outgrows one machine.
//
// The same code serves both engines: the schema is written to be portable
// (text IDs made by the hub, times as UTC milliseconds, integers for
// counts, text for hashes and sealed keys), the queries use $N placeholders
// both engines understand, and what differs (driver, goose dialect, how a
// unique violation is reported, how SQLite takes its write lock) is one
// dialect value. The conformance suite in storetest runs every test on both
// engines, so they cannot drift apart.
//
// Every change goes through Store.Tx, which commits or rolls back as a
// whole: the hub writes its audit record in the same transaction as the
// change it records.
package store
