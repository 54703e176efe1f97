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
	"time"

	"connectrpc.com/connect"
)

// Failures of a call to a master or the hub, one per thing an operator does
// differently about it. Each error meshctl prints for a failed call wraps
// one of these; explain's errors show their own text, which names the
// server, instead of the sentinel's.
var (
	// errRefused means the server did not accept the credentials: the
	// admin token, or the hub's API key, email or password.
	errRefused = errors.New("meshctl: credentials refused")
	// errForbidden means the credentials are valid but their role may not
	// do this.
	errForbidden = errors.New("meshctl: not allowed")
	// errUnreachable means no connection to the server could be made.
	errUnreachable = errors.New("meshctl: server unreachable")
	// errUnavailable means the server answered that it cannot serve now.
	errUnavailable = errors.New("meshctl: server unavailable")
	// errTimeout means the server did not answer within --timeout.
	errTimeout = errors.New("meshctl: no answer in time")
	// errUntrusted means the server's TLS certificate did not verify, or is
	// not the pinned one.
	errUntrusted = errors.New("meshctl: server certificate not trusted")
	// errNotTLS means the address answered, but not with TLS.
	errNotTLS = errors.New("meshctl: server did not answer with TLS")
	// errUnsupported means the server does not serve the call.
	errUnsupported = errors.New("meshctl: call not served")
	// errRejected means the server refused the request as it was given
	// (invalid argument, not found, already exists, failed precondition...).
	errRejected = errors.New("meshctl: request rejected")
	// errServer means the server failed while serving the call, or sent
	// what meshctl cannot use.
	errServer = errors.New("meshctl: server error")
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

// callError is a failed call as the operator reads it: its text names the
// server and what to do, and it unwraps to the sentinel for the kind of
// failure (the text of which is not shown) and to the cause, if any.
type callError struct {
	kind error
	err  error
}

func (e *callError) Error() string { return "meshctl: " + e.err.Error() }

func (e *callError) Unwrap() []error { return []error{e.kind, e.err} }

// fail builds a callError of kind; format may wrap a cause with %w.
func fail(kind error, format string, args ...any) error {
	return &callError{kind: kind, err: fmt.Errorf(format, args...)}
}

// callTarget is a server meshctl calls, a master or the hub, as the errors
// of a failed call describe it.
type callTarget struct {
	// name is what messages call it: "the master", "the hub".
	name    string
	addr    string
	timeout time.Duration
	// credential is what the server refuses when it does not know the
	// caller; account is what its role denies an action to.
	credential, account string
	// refusedHint, if set, says where the refused credential came from
	// and how to get another.
	refusedHint string
	// untrustedHint says how to make the server's certificate verify.
	untrustedHint string
	// unsupportedHint guesses why the server does not serve a call.
	unsupportedHint string
}

// masterTarget is the master the admin client calls.
func (a *app) masterTarget() callTarget {
	t := callTarget{
		name:            "the master",
		addr:            a.cfg.Addr,
		timeout:         a.cfg.Timeout,
		credential:      "the admin token",
		account:         "the admin token",
		untrustedHint:   "pass the cluster CA with --ca or LICMESH_CA",
		unsupportedHint: "wrong address, or an older master?",
	}
	if a.cfg.CAFile != "" {
		t.untrustedHint = fmt.Sprintf("is %s the cluster CA?", a.cfg.CAFile)
	}
	return t
}

// explain turns an error from a call to t into one an operator can act
// on, naming t's address where it matters. procedure names the call, for
// a server that does not serve it.
func (t callTarget) explain(err error, procedure string) error {
	// TLS problems surface under several connect codes; they need their
	// own advice whatever the code.
	var pinErr *fingerprintMismatchError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidErr x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &pinErr):
		return fail(errUntrusted, "cannot verify %s's TLS certificate at %s: %w (another server, or its certificate was replaced: check with %s's operator before pinning the new one)",
			t.name, t.addr, pinErr, t.name)
	case errors.Is(err, http.ErrSchemeMismatch):
		return fail(errNotTLS, "%s did not answer with TLS at %s: it answered in plain HTTP; %s's API is HTTPS", t.name, t.addr, t.name)
	case errors.As(err, &recordErr):
		return fail(errNotTLS, "%s did not answer with TLS at %s: is the address right? (%v)", t.name, t.addr, recordErr)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr), errors.As(err, &verifyErr):
		return fail(errUntrusted, "cannot verify %s's TLS certificate at %s: %s (%v)", t.name, t.addr, t.untrustedHint, innermostTLS(err))
	}

	var ce *connect.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, context.DeadlineExceeded) {
			return t.timedOut()
		}
		return fail(errServer, "%s failed at %s: %w", t.name, t.addr, err)
	}
	msg := ce.Message()
	if msg == "" {
		msg = ce.Code().String()
	}
	switch ce.Code() {
	case connect.CodeUnauthenticated:
		s := t.name + " refused " + t.credential
		if ce.Message() != "" {
			s += ": " + ce.Message()
		}
		if t.refusedHint != "" {
			s += " (" + t.refusedHint + ")"
		}
		return fail(errRefused, "%s", s)
	case connect.CodePermissionDenied:
		return fail(errForbidden, "%s is not allowed to do this: %s", t.account, msg)
	case connect.CodeUnavailable:
		if connect.IsWireError(ce) {
			return fail(errUnavailable, "%s is unavailable: %s says %s", t.name, t.addr, msg)
		}
	case connect.CodeCanceled:
		if !connect.IsWireError(ce) {
			return errCanceled
		}
	case connect.CodeDeadlineExceeded:
		return t.timedOut()
	case connect.CodeUnimplemented:
		return fail(errUnsupported, "%s does not serve this call: %s does not serve %s (%s): %s",
			t.name, t.addr, procedure, t.unsupportedHint, msg)
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodeFailedPrecondition, connect.CodeOutOfRange, connect.CodeResourceExhausted,
		connect.CodeAborted:
		// The server's own word is the best description of the problem.
		return fail(errRejected, "%s", msg)
	}
	// What is left: the server failed, or, if it never answered, the
	// transport did.
	if !connect.IsWireError(ce) {
		return fail(errUnreachable, "cannot reach %s at %s: %s", t.name, t.addr, transportCause(err, msg))
	}
	return fail(errServer, "%s failed at %s (%s): %s", t.name, t.addr, ce.Code(), msg)
}

// timedOut is the failure of a call t did not answer within its timeout.
func (t callTarget) timedOut() error {
	return fail(errTimeout, "%s did not answer in time: %s did not answer within %s", t.name, t.addr, t.timeout)
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

// redactSecrets takes every secret out of s, text about to be printed, in
// case a server or a library echoed one. Very short secrets are left
// alone: replacing every occurrence of two letters would garble the
// message and protect nothing.
func redactSecrets(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
