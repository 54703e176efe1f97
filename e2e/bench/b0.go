package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// MeasureB0 records the machine's floor: fsync latency on the disk the tests
// use and loopback TCP and UDP round trips. Every other number in the table
// should be read against these.
func MeasureB0(ctx context.Context, cfg Config) ([]Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fsync, err := FsyncLatency(ctx, cfg.Dir, cfg.FsyncBytes, cfg.FsyncSamples)
	if err != nil {
		return nil, err
	}
	tcp, err := TCPRoundTrip(ctx, cfg.TCPSamples, cfg.RTTTimeout)
	if err != nil {
		return nil, err
	}
	udp, err := UDPRoundTrip(ctx, cfg.UDPSamples, cfg.RTTTimeout)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%d B write+fdatasync", cfg.FsyncBytes)
	return []Result{
		{ID: "B0", Name: "fsync p50", Value: Millis(fsync.P50), Unit: "ms",
			Note: fmt.Sprintf("%s, n=%d", what, fsync.N)},
		{ID: "B0", Name: "fsync p99", Value: Millis(fsync.P99), Unit: "ms",
			Note: fmt.Sprintf("max %.3f ms", Millis(fsync.Max))},
		{ID: "B0", Name: "loopback TCP RTT p50", Value: Micros(tcp.P50), Unit: "µs",
			Note: fmt.Sprintf("1 B ping-pong, n=%d, p99 %.1f µs", tcp.N, Micros(tcp.P99))},
		{ID: "B0", Name: "loopback UDP RTT p50", Value: Micros(udp.P50), Unit: "µs",
			Note: fmt.Sprintf("1 B ping-pong, n=%d, p99 %.1f µs", udp.N, Micros(udp.P99))},
	}, nil
}

// FsyncLatency appends size-byte blocks to a fresh file in dir (empty: the OS
// temp dir) and times each write plus fdatasync, as a log store would pay it.
// Appending rather than overwriting keeps the file-size update in the cost.
func FsyncLatency(ctx context.Context, dir string, size, samples int) (Latencies, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return Latencies{}, fmt.Errorf("%w: fsync temp file: %w", ErrProbe, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()

	block := make([]byte, size)
	for i := range block {
		block[i] = byte(i)
	}
	out := make([]time.Duration, 0, samples)
	for range samples {
		if err := ctx.Err(); err != nil {
			return Latencies{}, err
		}
		start := time.Now()
		if _, err := f.Write(block); err != nil {
			return Latencies{}, fmt.Errorf("%w: fsync write: %w", ErrProbe, err)
		}
		if err := datasync(f); err != nil {
			return Latencies{}, fmt.Errorf("%w: fdatasync: %w", ErrProbe, err)
		}
		out = append(out, time.Since(start))
	}
	return Summarize(out), nil
}

// TCPRoundTrip times 1-byte ping-pongs over one loopback TCP connection.
// Nagle is off by Go's default, so each ping is its own segment.
func TCPRoundTrip(ctx context.Context, samples int, timeout time.Duration) (Latencies, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Latencies{}, fmt.Errorf("%w: tcp listen: %w", ErrProbe, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		// A plain read/write loop rather than io.Copy, which may splice and
		// would no longer be what an application's request path does.
		buf := make([]byte, 64)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return // the client hung up
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return
			}
		}
	})

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return Latencies{}, fmt.Errorf("%w: tcp dial: %w", ErrProbe, err)
	}
	defer conn.Close()
	return pingPong(ctx, conn, samples, timeout, "tcp")
}

// UDPRoundTrip times 1-byte ping-pongs between two loopback UDP sockets.
func UDPRoundTrip(ctx context.Context, samples int, timeout time.Duration) (Latencies, error) {
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return Latencies{}, fmt.Errorf("%w: udp listen: %w", ErrProbe, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer srv.Close()
	wg.Go(func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return // closed by the deferred Close
			}
			if _, err := srv.WriteTo(buf[:n], from); err != nil {
				return
			}
		}
	})

	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", srv.LocalAddr().String())
	if err != nil {
		return Latencies{}, fmt.Errorf("%w: udp dial: %w", ErrProbe, err)
	}
	defer conn.Close()
	return pingPong(ctx, conn, samples, timeout, "udp")
}

// pingPong writes one byte and waits for it to come back, samples times.
func pingPong(ctx context.Context, conn net.Conn, samples int, timeout time.Duration, proto string) (Latencies, error) {
	// Closing the conn is what unblocks a read when ctx ends early.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	ping := []byte{0x42}
	pong := make([]byte, 64)
	out := make([]time.Duration, 0, samples)
	for range samples {
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			return Latencies{}, fmt.Errorf("%w: %s deadline: %w", ErrProbe, proto, err)
		}
		start := time.Now()
		if _, err := conn.Write(ping); err != nil {
			return Latencies{}, fmt.Errorf("%w: %s write: %w", ErrProbe, proto, ctxOr(ctx, err))
		}
		if _, err := io.ReadFull(conn, pong[:1]); err != nil {
			return Latencies{}, fmt.Errorf("%w: %s read: %w", ErrProbe, proto, ctxOr(ctx, err))
		}
		out = append(out, time.Since(start))
	}
	return Summarize(out), nil
}

// ctxOr prefers the context's error, so a cancelled run says so instead of
// reporting the closed connection it caused.
func ctxOr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}
