package fsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/licmesh/licmesh/licensing/lease"
)

// Encode serializes a command for the Raft log: one message-type byte, then
// the command as JSON. cmd must be the struct for t (or a pointer to it); t
// may carry IgnoreUnknownTypeFlag. The command is validated first, so a bad
// command fails here rather than after a round through Raft.
func Encode(t MsgType, cmd any) ([]byte, error) {
	if v := reflect.ValueOf(cmd); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("%w: nil %T", ErrWrongCommand, cmd)
	}
	c, ok := cmd.(command)
	if !ok || c.msgType() != t.Base() {
		return nil, fmt.Errorf("%w: %T for %s", ErrWrongCommand, cmd, t)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if 1+len(body) > MaxCommandSize {
		return nil, fmt.Errorf("%w: %s encodes to %d bytes, at most %d allowed", ErrMalformed, t, 1+len(body), MaxCommandSize)
	}
	out := make([]byte, 1+len(body))
	out[0] = byte(t)
	copy(out[1:], body)
	return out, nil
}

// Decode parses a command written by Encode and validates it. It returns
// the message type as written (flag included) and a pointer to the command
// struct (*LeaseBatch, *Enroll, ...). Unknown JSON fields, trailing data and
// oversized input are refused. For a type this version does not know it
// returns the type and an error wrapping ErrUnknownMsgType.
func Decode(data []byte) (MsgType, any, error) {
	if len(data) == 0 {
		return 0, nil, fmt.Errorf("%w: empty command", ErrMalformed)
	}
	if len(data) > MaxCommandSize {
		return 0, nil, fmt.Errorf("%w: command has %d bytes, at most %d allowed", ErrMalformed, len(data), MaxCommandSize)
	}
	t := MsgType(data[0])
	m, ok := t.message()
	if !ok {
		return t, nil, fmt.Errorf("%w: %s", ErrUnknownMsgType, t)
	}
	c := m.new()
	dec := json.NewDecoder(bytes.NewReader(data[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return t, nil, fmt.Errorf("%w: %s: %w", ErrMalformed, t.Base(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return t, nil, fmt.Errorf("%w: %s: trailing data after the command", ErrMalformed, t.Base())
	}
	if err := c.validate(); err != nil {
		return t, nil, err
	}
	return t, c, nil
}

// checkNow checks a leader timestamp in Unix milliseconds.
func checkNow(now int64) error {
	if now <= 0 || now > maxUnixMs {
		return fmt.Errorf("%w: now %d is not a Unix time in milliseconds", ErrMalformed, now)
	}
	return nil
}

func checkID(field, id string) error {
	if err := checkIDPlain(field, id); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// checkIDPlain checks a cluster, token or collector ID: 1..MaxIDLen
// characters of [A-Za-z0-9._-] starting with a letter or digit, the same
// alphabet the PKI uses for identities.
func checkIDPlain(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", field)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%s has %d characters, at most %d allowed", field, len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%s %q must start with a letter or digit", field, clip(id))
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%s %q has a character outside [A-Za-z0-9._-]", field, clip(id))
		}
	}
	return nil
}

func checkText(field, s string, max int) error {
	if err := lease.ValidateField(field, s, max); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func checkOptText(field, s string, max int) error {
	if s == "" {
		return nil
	}
	return checkText(field, s, max)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// clip bounds user-supplied text quoted in error messages.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
