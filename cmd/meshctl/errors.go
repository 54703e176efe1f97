package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// Failures of a call to the master, one per thing an operator does
// differently about it. Each error meshctl prints for a failed call wraps one
// of these.
var (
	// errTokenRefused means the master did not accept the admin token.
	errTokenRefused = errors.New("meshctl: the admin token was refused")
	// errForbidden means the token is valid but its role may not do this.
	errForbidden = errors.New("meshctl: the admin token is not allowed to do this")
	// errUnreachable means no connection to the master could be made.
	errUnreachable = errors.New("meshctl: cannot reach master")
	// errUnavailable means the master answered that it cannot serve now.
	errUnavailable = errors.New("meshctl: master is unavailable")
	// errTimeout means the master did not answer within --timeout.
	errTimeout = errors.New("meshctl: master did not answer in time")
	// errUntrusted means the master's TLS certificate did not verify.
	errUntrusted = errors.New("meshctl: cannot verify the master's TLS certificate")
	// errNotTLS means the address answered, but not with TLS.
	errNotTLS = errors.New("meshctl: master did not answer with TLS")
	// errUnsupported means the master does not serve the call.
	errUnsupported = errors.New("meshctl: master does not serve this call")
	// errRejected means the master refused the request as it was given
	// (invalid argument, not found, already exists, failed precondition...).
	errRejected = errors.New("meshctl: request rejected")
	// errServer means the master failed while serving the call.
	errServer = errors.New("meshctl: master error")
	// errCanceled means meshctl was interrupted.
	errCanceled = errors.New("meshctl: canceled")
)

// usageError is a problem with how meshctl was invoked: a bad flag,
// argument or setting. It exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return "meshctl: " + e.msg }

// usagef builds a usageError. It never takes the admin token as an argument.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// rejection is the master's own word on a request it refused: its message
// is the best description of the problem, so it is shown as it is.
type rejection struct {
	code connect.Code
	msg  string
}

func (e *rejection) Error() string { return "meshctl: " + e.msg }

func (e *rejection) Unwrap() error { return errRejected }

// explain turns an error from the admin client into one an operator can act
// on, naming the master's address where it matters. procedure names the
// call, for masters that do not serve it.
func (a *app) explain(err error, procedure string) error {
	addr := a.cfg.Addr

	// TLS problems surface under several connect codes; they need their
	// own advice whatever the code.
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, http.ErrSchemeMismatch):
		return fmt.Errorf("%w at %s: it answered in plain HTTP; the admin API is HTTPS", errNotTLS, addr)
	case errors.As(err, &recordErr):
		return fmt.Errorf("%w at %s: is the address right? (%v)", errNotTLS, addr, recordErr)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr), errors.As(err, &verifyErr):
		hint := "pass the cluster CA with --ca or LICMESH_CA"
		if a.cfg.CAFile != "" {
			hint = fmt.Sprintf("is %s the cluster CA?", a.cfg.CAFile)
		}
		return fmt.Errorf("%w at %s: %s (%v)", errUntrusted, addr, hint, innermostTLS(err))
	}

	var ce *connect.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %s did not answer within %s", errTimeout, addr, a.cfg.Timeout)
		}
		return fmt.Errorf("%w at %s: %w", errServer, addr, err)
	}
	msg := ce.Message()
	if msg == "" {
		msg = ce.Code().String()
	}
	switch ce.Code() {
	case connect.CodeUnauthenticated:
		if ce.Message() == "" {
			return errTokenRefused
		}
		return fmt.Errorf("%w: %s", errTokenRefused, msg)
	case connect.CodePermissionDenied:
		return fmt.Errorf("%w: %s", errForbidden, msg)
	case connect.CodeUnavailable:
		if connect.IsWireError(ce) {
			return fmt.Errorf("%w: %s says %s", errUnavailable, addr, msg)
		}
		return fmt.Errorf("%w at %s: %s", errUnreachable, addr, transportCause(err, msg))
	case connect.CodeDeadlineExceeded:
		return fmt.Errorf("%w: %s did not answer within %s", errTimeout, addr, a.cfg.Timeout)
	case connect.CodeCanceled:
		return errCanceled
	case connect.CodeUnimplemented:
		return fmt.Errorf("%w: %s does not serve %s (wrong address, or an older master?): %s",
			errUnsupported, addr, procedure, msg)
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodeFailedPrecondition, connect.CodeOutOfRange, connect.CodeResourceExhausted,
		connect.CodeAborted:
		return &rejection{code: ce.Code(), msg: msg}
	default:
		if !connect.IsWireError(ce) {
			return fmt.Errorf("%w at %s: %s", errUnreachable, addr, transportCause(err, msg))
		}
		return fmt.Errorf("%w at %s (%s): %s", errServer, addr, ce.Code(), msg)
	}
}

// transportCause is the most telling part of a transport failure: the
// network operation that failed, without the request URL around it.
func transportCause(err error, fallback string) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	return fallback
}

// innermostTLS is the certificate error itself, without the request URL and
// the wrapping around it.
func innermostTLS(err error) error {
	var verifyErr *tls.CertificateVerificationError
	if errors.As(err, &verifyErr) && verifyErr.Err != nil {
		return verifyErr.Err
	}
	return err
}

// redact removes the admin token from text that is about to be printed, in
// case a server or a library echoed it. Very short tokens are left alone:
// replacing every occurrence of two letters would garble the message and
// protect nothing.
func (a *app) redact(s string) string {
	if len(a.token) < 4 {
		return s
	}
	return strings.ReplaceAll(s, a.token, "[redacted]")
}
