package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// Statements are prepared once per connection and reused: SQLite (the
// modernc driver) otherwise parses every statement on every call, which
// a profile of usage ingestion showed as its largest single cost, and
// PostgreSQL saves a parse and plan per call. The cache is keyed by the
// query text; queries built with a varying number of rows make a few
// hundred texts at most, and past maxCachedStmts the rest run unprepared.
//
// A statement is first prepared in the background, outside the
// transaction that met it, which runs it unprepared: preparing on the
// pool from inside a transaction would wait for a free connection, and
// with SQLite's one writer at a time the connections may all be held by
// transactions queued behind this one. Once cached, a transaction uses
// it through Tx.StmtContext, which prepares it on the transaction's own
// connection if it has to.
const maxCachedStmts = 2048

type stmtCache struct {
	db      *sql.DB
	stmts   sync.Map // query text → *sql.Stmt, or pending while it is prepared
	n       atomic.Int32
	closed  atomic.Bool
	running sync.WaitGroup
}

// pending marks a query whose preparation is under way.
type pending struct{}

// stmt returns q prepared on the database, or nil when it is not (yet):
// the first call starts its preparation in the background.
func (c *stmtCache) stmt(q string) *sql.Stmt {
	v, loaded := c.stmts.Load(q)
	if loaded {
		s, _ := v.(*sql.Stmt)
		return s
	}
	if c.n.Load() >= maxCachedStmts || c.closed.Load() {
		return nil
	}
	if _, loaded := c.stmts.LoadOrStore(q, pending{}); loaded {
		return nil
	}
	c.n.Add(1)
	c.running.Go(func() {
		s, err := c.db.PrepareContext(context.Background(), q)
		if err != nil || c.closed.Load() {
			// A query that does not prepare stays unprepared: its error
			// is the transaction's to report.
			if s != nil {
				s.Close()
			}
			return
		}
		c.stmts.Store(q, s)
	})
	return nil
}

// close waits for preparations under way and closes every statement.
func (c *stmtCache) close() {
	c.closed.Store(true)
	c.running.Wait()
	c.stmts.Range(func(_, v any) bool {
		if s, ok := v.(*sql.Stmt); ok {
			s.Close()
		}
		return true
	})
}

// cachedTx runs a transaction's statements through the cache. It has the
// methods of *sql.Tx that the store's operations use, so they read as
// plain database/sql.
type cachedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (c cachedTx) prepared(ctx context.Context, q string) *sql.Stmt {
	s := c.cache.stmt(q)
	if s == nil {
		return nil
	}
	return c.tx.StmtContext(ctx, s)
}

func (c cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := c.prepared(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, q, args...)
}

func (c cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := c.prepared(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, q, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if s := c.prepared(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, q, args...)
}
