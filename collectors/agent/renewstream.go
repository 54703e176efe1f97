package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// A renewal stream is reopened once it has carried renewStreamMaxBytes of
// renewals: a master bounds the bytes of one request (4 MiB by default),
// and a stream is one request however long it lives. At two leases a
// renewal that is days of renewals.
const renewStreamMaxBytes = 1 << 20

// A master that answered RenewStream Unimplemented (one older than it) is
// renewed by Renew for unaryFor before the collector tries a stream again:
// by then its update may have landed.
const unaryFor = time.Hour

// renewStream keeps the collector's renewal stream: one RenewStream to the
// master its renewals go to, opened at the first renewal there and kept
// while renewals get through on it. A renewal there costs the master a
// message on a stream it already has, instead of a request of its own.
// Renewals take turns on it; the agent sends one batch at a time anyway.
type renewStream struct {
	mu     sync.Mutex
	addr   string
	stream *connect.BidiStreamForClient[licmeshv1.RenewStreamRequest, licmeshv1.RenewStreamResponse]
	cancel context.CancelFunc
	sent   int // bytes of renewals sent on stream
	// unary holds, per master, until when it is renewed by Renew.
	unary map[string]time.Time
}

// renew sends req to the master at addr (client c) on the stream, opening
// one if the stream goes elsewhere or has carried enough, and returns the
// answer. ctx bounds this renewal only: when it ends first the stream is
// cut. Any failure closes the stream; the caller moves on to the next
// master as for a failed call. now is the agent's clock.
func (r *renewStream) renew(ctx context.Context, tr Transport, c licmeshv1connect.CollectorServiceClient, addr string, now time.Time, req *licmeshv1.RenewRequest) (*licmeshv1.RenewResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.unary[addr]) {
		return unaryRenew(ctx, c, req)
	}
	size := proto.Size(req)
	if r.stream != nil && (r.addr != addr || r.sent+size > renewStreamMaxBytes) {
		moved := r.addr != addr
		r.closeLocked()
		// The stream kept the connection to the master the collector
		// left in use; now nothing does.
		if ic, ok := tr.(idleCloser); ok && moved {
			ic.CloseIdleExcept(addr)
		}
	}
	if r.stream == nil {
		// The stream outlives this renewal, so it does not take ctx.
		sctx, cancel := context.WithCancel(context.Background())
		r.stream, r.cancel, r.addr, r.sent = c.RenewStream(sctx), cancel, addr, 0
	}
	stop := cutAt(ctx, r.stream, r.cancel)
	resp, err := r.exchange(req)
	if !stop() {
		err = fmt.Errorf("renewal stream: %w", context.Cause(ctx))
	}
	if err == nil {
		r.sent += size
		return resp, nil
	}
	r.closeLocked()
	if connect.CodeOf(err) != connect.CodeUnimplemented {
		return nil, err
	}
	if r.unary == nil {
		r.unary = map[string]time.Time{}
	}
	r.unary[addr] = now.Add(unaryFor)
	return unaryRenew(ctx, c, req)
}

// cutAt ends stream when ctx ends, unless the returned stop is called
// first; stop reports whether it was, and otherwise returns once the
// stream is cut. Cancelling the stream's context alone does not end a
// Receive over HTTP/2 while the request body is open (net/http watches the
// context only once the body is done), so both directions are closed too,
// which ends a Send or Receive under way over either protocol.
func cutAt(ctx context.Context, stream *connect.BidiStreamForClient[licmeshv1.RenewStreamRequest, licmeshv1.RenewStreamResponse], cancel context.CancelFunc) (stop func() bool) {
	cut := make(chan struct{})
	stopFunc := context.AfterFunc(ctx, func() {
		defer close(cut)
		cancel()
		_ = stream.CloseRequest()
		_ = stream.CloseResponse()
	})
	return func() bool {
		if stopFunc() {
			return true
		}
		<-cut
		return false
	}
}

// exchange sends one renewal on the open stream and reads its answer.
func (r *renewStream) exchange(req *licmeshv1.RenewRequest) (*licmeshv1.RenewResponse, error) {
	if err := r.stream.Send(&licmeshv1.RenewStreamRequest{Renew: req}); err != nil {
		// The master ended the stream; why is in the response.
		if errors.Is(err, io.EOF) {
			_, err = r.stream.Receive()
		}
		return nil, err
	}
	m, err := r.stream.Receive()
	if err != nil {
		return nil, err
	}
	if m.Renew == nil {
		return nil, badAnswer("a renewal stream answer carries no renewal")
	}
	return m.Renew, nil
}

// close ends the stream, if one is open.
func (r *renewStream) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked()
}

func (r *renewStream) closeLocked() {
	if r.stream == nil {
		return
	}
	r.cancel()
	_ = r.stream.CloseRequest()
	_ = r.stream.CloseResponse()
	r.stream, r.cancel, r.addr = nil, nil, ""
}

func unaryRenew(ctx context.Context, c licmeshv1connect.CollectorServiceClient, req *licmeshv1.RenewRequest) (*licmeshv1.RenewResponse, error) {
	resp, err := c.Renew(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}
