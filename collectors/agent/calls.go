package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// maxMessageBytes bounds every message to and from a master. The largest
// legitimate answer, a renew batch of maxRenewBatch leases with their tokens,
// is well under it; anything larger is refused before it is decoded.
const maxMessageBytes = 1 << 20

// clientTLS is the mutual-TLS configuration for an enrolled collector: it
// trusts only the cluster CA, checks the master's name and role, and presents
// whatever certificate is current, so a renewed certificate is used from the
// next handshake on without rebuilding the transport.
func (a *Agent) clientTLS(caPool *x509.CertPool) *tls.Config {
	conf := pki.ClientTLS(caPool, nil, "")
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		id := a.identity()
		if id == nil {
			return &tls.Certificate{}, nil
		}
		c := id.Cert
		return &c, nil
	}
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		role, _, err := pki.VerifiedPeer(cs)
		if err != nil {
			return err
		}
		if role != pki.RoleMaster {
			return fmt.Errorf("agent: server identifies as a %s, not a master", role)
		}
		return nil
	}
	return conf
}

// newClient returns a CollectorService client for one master over tr.
func newClient(tr Transport, addr string) licmeshv1connect.CollectorServiceClient {
	return licmeshv1connect.NewCollectorServiceClient(tr.HTTPClient(), "https://"+addr,
		connect.WithReadMaxBytes(maxMessageBytes),
		connect.WithSendMaxBytes(maxMessageBytes),
	)
}

// A call that finds every master answering Unavailable tries again, up to
// unavailablePasses more times, waiting unavailableBackoff and then twice as
// long each time: 50+100+200+400+800 ms covers a leadership handover or an
// election of the default timeouts.
const (
	unavailablePasses  = 5
	unavailableBackoff = 50 * time.Millisecond
)

// callFunc is one attempt of a call on one master.
type callFunc func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error

// call tries fn on each master in turn, preferred first, until one answers.
// A master "answers" when fn succeeds or the master refuses the request
// (a Connect error from the server with a definite code, returned as a
// *RejectedError): another master would refuse it too. A transport error, a
// timeout or an answer that failed validation moves on to the next master.
// Each attempt is bounded by attempt; the whole call by ctx.
func (a *Agent) call(ctx context.Context, tr Transport, attempt time.Duration, fn callFunc) error {
	var errs []error
	backoff := unavailableBackoff
	for pass := 0; ; pass++ {
		var passErrs []error
		busy := 0 // masters that answered "not now": an election, a leadership handover, catching up
		for _, addr := range a.masters.Snapshot() {
			if ctx.Err() != nil {
				break
			}
			actx, cancel := context.WithTimeout(ctx, attempt)
			err := fn(actx, newClient(tr, addr), addr)
			cancel()
			if err == nil {
				a.masters.Succeeded(addr)
				a.noteContact(tr, addr)
				// The next call goes to the leader if this master named one
				// the collector knows: a follower forwards every write.
				if h, _ := a.leaderHint.Swap("").(string); h != "" && h != addr {
					a.masters.Succeeded(h)
				}
				return nil
			}
			if rej := asRejection(addr, err); rej != nil {
				a.masters.Succeeded(addr)
				a.noteContact(tr, addr)
				return rej
			}
			if connect.IsWireError(err) && connect.CodeOf(err) == connect.CodeUnavailable {
				busy++
			}
			a.masters.Failed(addr)
			a.log.Debug("collectord: master did not answer", "master", addr, "error", err)
			passErrs = append(passErrs, fmt.Errorf("%s: %w", addr, err))
		}
		if len(passErrs) > 0 {
			errs = passErrs
		}
		// Every master is up but none can take the call this moment: the
		// cluster is between leaders for about an election. Waiting that
		// long beats failing the product's request.
		if busy == 0 || busy < len(passErrs) || pass >= unavailablePasses || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff *= 2
	}
	if len(errs) == 0 {
		errs = append(errs, context.Cause(ctx))
	}
	err := fmt.Errorf("%w: %w", ErrUnavailable, errors.Join(errs...))
	a.noteError(err)
	return err
}

// finalCodes are refusals that another master would repeat.
var finalCodes = map[connect.Code]bool{
	connect.CodeInvalidArgument:    true,
	connect.CodeNotFound:           true,
	connect.CodeAlreadyExists:      true,
	connect.CodePermissionDenied:   true,
	connect.CodeResourceExhausted:  true,
	connect.CodeFailedPrecondition: true,
	connect.CodeOutOfRange:         true,
	connect.CodeUnauthenticated:    true,
}

// asRejection returns the refusal in err if it is one a master sent.
// Errors the client made itself (a message over the size limit is
// ResourceExhausted too) are not refusals: connect.IsWireError tells them
// apart.
func asRejection(addr string, err error) *RejectedError {
	var ce *connect.Error
	if !errors.As(err, &ce) || !connect.IsWireError(err) || !finalCodes[ce.Code()] {
		return nil
	}
	return rejection(addr, ce.Code(), ce.Message())
}

// rejection is a master's refusal as the product is told it.
func rejection(addr string, code connect.Code, msg string) *RejectedError {
	return &RejectedError{Master: addr, Code: code, Message: strings.TrimSpace(clip(msg, 300))}
}

// noteContact records that a master answered. When that is a move to
// another master (the leader a follower named, or the next master after a
// failure), the connections to the others that carry nothing are closed: a
// master keeps tens of KiB and a few goroutines for each connection, and a
// fleet that found the leader through followers would otherwise leave one
// on a follower per collector until its idle timeout.
func (a *Agent) noteContact(tr Transport, addr string) {
	a.mu.Lock()
	moved := a.st.lastMaster != addr
	a.st.lastMaster = addr
	a.st.lastContact = a.clock.Now()
	a.mu.Unlock()
	if ic, ok := tr.(idleCloser); ok && moved {
		ic.CloseIdleExcept(addr)
	}
}

// idleCloser is the part of transport.Client that lets go of connections
// to the masters a collector no longer uses.
type idleCloser interface {
	CloseIdleExcept(keep string) int
}

// noteError records the last failure to reach the masters, for status.
func (a *Agent) noteError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.lastError = clip(err.Error(), 1000)
}

// clip bounds text from a master before it is logged or shown.
func clip(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
