package main

import "fmt"

// hubTarget is the hub the hub client calls.
func (h *hubApp) hubTarget() callTarget {
	t := callTarget{
		name:            "the hub",
		addr:            h.cfg.Addr,
		timeout:         h.a.cfg.Timeout,
		credential:      "the credentials",
		account:         "the hub account",
		untrustedHint:   "pin the certificate fingerprint hubd init printed with --hub-fingerprint, or give its PEM with --hub-ca",
		unsupportedHint: "is it a hub, and as new as this meshctl?",
	}
	if h.cfg.CAFile != "" {
		t.untrustedHint = fmt.Sprintf("is %s the hub's certificate or its CA?", h.cfg.CAFile)
	}
	// Signing in sends no API key: only a call that sent one can blame it.
	if h.key != "" {
		t.refusedHint = fmt.Sprintf("the API key from %s; run meshctl hub login for a new one", h.cfg.keySource())
	}
	return t
}

// redactedError is an error whose text had a secret taken out; it still
// unwraps to the original so that its exit status is unchanged.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.err }

// redact removes every secret this invocation holds (the API key, a
// password read) from err's text, in case a server or a library echoed it.
func (h *hubApp) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := redactSecrets(msg, h.secrets...)
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}
