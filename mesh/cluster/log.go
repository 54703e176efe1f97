package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// isQuiet reports Raft warnings that describe a normal state of this package
// (a node waiting to be bootstrapped or added, or one that was removed): they
// would repeat every heartbeat timeout, so they go to debug.
func isQuiet(msg string) bool {
	switch msg {
	case "no known peers, aborting election",
		"not part of stable configuration, aborting election":
		return true
	}
	return false
}

// hclogAdapter implements hclog.Logger on top of slog, for Raft.
type hclogAdapter struct {
	base    *slog.Logger
	out     *slog.Logger // base with implied args and name
	name    string
	implied []any
	level   *atomic.Int32 // hclog.Level, shared with derived loggers as hclog does
}

var _ hclog.Logger = (*hclogAdapter)(nil)

func newHclogAdapter(base *slog.Logger, name string, min slog.Level) *hclogAdapter {
	lvl := new(atomic.Int32)
	lvl.Store(int32(hclogLevel(min)))
	return newHclogAdapterShared(base, name, nil, lvl)
}

func newHclogAdapterShared(base *slog.Logger, name string, implied []any, lvl *atomic.Int32) *hclogAdapter {
	out := base
	if len(implied) > 0 {
		out = out.With(convertArgs(implied)...)
	}
	if name != "" {
		out = out.With("logger", name)
	}
	return &hclogAdapter{base: base, out: out, name: name, implied: implied, level: lvl}
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	default:
		return hclog.Error
	}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// convertArgs renders hclog's formatting helpers; slog's JSON handler already
// renders errors with Error().
func convertArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case hclog.Format:
			if len(v) > 0 {
				if f, ok := v[0].(string); ok {
					out[i] = fmt.Sprintf(f, v[1:]...)
					continue
				}
			}
			out[i] = fmt.Sprint(v...)
		case hclog.Hex:
			out[i] = fmt.Sprintf("0x%x", int(v))
		case hclog.Octal:
			out[i] = fmt.Sprintf("0%o", int(v))
		case hclog.Binary:
			out[i] = fmt.Sprintf("0b%b", int(v))
		case hclog.Quote:
			out[i] = fmt.Sprintf("%q", string(v))
		default:
			out[i] = a
		}
	}
	return out
}

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	cur := hclog.Level(a.level.Load())
	return l != hclog.Off && cur != hclog.Off && l >= cur
}

// Log implements hclog.Logger.
func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level > hclog.Debug && isQuiet(msg) {
		level = hclog.Debug
	}
	if !a.enabled(level) {
		return
	}
	a.out.Log(context.Background(), slogLevel(level), msg, convertArgs(args)...)
}

// Trace implements hclog.Logger.
func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *hclogAdapter) Info(msg string, args ...any) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *hclogAdapter) Warn(msg string, args ...any) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (a *hclogAdapter) IsInfo() bool { return a.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (a *hclogAdapter) IsWarn() bool { return a.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

// With implements hclog.Logger.
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	implied := append(append([]any{}, a.implied...), args...)
	return newHclogAdapterShared(a.base, a.name, implied, a.level)
}

// Name implements hclog.Logger.
func (a *hclogAdapter) Name() string { return a.name }

// Named implements hclog.Logger.
func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return newHclogAdapterShared(a.base, name, a.implied, a.level)
}

// ResetNamed implements hclog.Logger.
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return newHclogAdapterShared(a.base, name, a.implied, a.level)
}

// SetLevel implements hclog.Logger.
func (a *hclogAdapter) SetLevel(level hclog.Level) { a.level.Store(int32(level)) }

// GetLevel implements hclog.Logger.
func (a *hclogAdapter) GetLevel() hclog.Level { return hclog.Level(a.level.Load()) }

// StandardLogger implements hclog.Logger.
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger.
func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	w := &lineWriter{log: a, level: hclog.Info}
	if opts != nil {
		w.infer = opts.InferLevels || opts.InferLevelsWithTimestamp
		if opts.ForceLevel != hclog.NoLevel {
			w.level = opts.ForceLevel
		}
	}
	return w
}

// lineWriter turns standard-library log lines into leveled records, reading
// "[WARN] " style prefixes when infer is set (memberlist writes those).
type lineWriter struct {
	log    *hclogAdapter
	level  hclog.Level
	infer  bool
	prefix string // stripped from messages, e.g. "memberlist: "
}

// Write implements io.Writer; each call is one or more complete lines, as
// log.Logger guarantees.
func (w *lineWriter) Write(p []byte) (int, error) {
	for line := range bytes.SplitSeq(bytes.TrimRight(p, "\n"), []byte("\n")) {
		msg := string(line)
		level := w.level
		if w.infer {
			level, msg = inferLevel(msg, level)
		}
		msg = strings.TrimPrefix(msg, w.prefix)
		w.log.Log(level, msg)
	}
	return len(p), nil
}

// inferLevel reads a "[LEVEL]" tag anywhere before the message (a timestamp
// may precede it).
func inferLevel(msg string, def hclog.Level) (hclog.Level, string) {
	tags := []struct {
		tag   string
		level hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERR]", hclog.Error}, {"[ERROR]", hclog.Error},
	}
	for _, t := range tags {
		if i := strings.Index(msg, t.tag); i >= 0 {
			return t.level, strings.TrimSpace(msg[i+len(t.tag):])
		}
	}
	return def, msg
}

// newGossipLogger adapts memberlist's *log.Logger output to slog through a.
func newGossipLogger(a *hclogAdapter) *log.Logger {
	return log.New(&lineWriter{log: a, level: hclog.Info, infer: true, prefix: "memberlist: "}, "", 0)
}
