// Package mailertest is a real SMTP server (emersion/go-smtp) for tests, on
// loopback TCP, that keeps every message it accepts: what the hub's and the
// masters' mail is tested against.
package mailertest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// Server is the SMTP server. With a username it requires AUTH PLAIN.
type Server struct {
	Addr       string
	user, pass string
	srv        *smtp.Server
	mu         sync.Mutex
	got        []Mail
}

// Mail is one message as the server took it.
type Mail struct {
	From string
	To   []string
	Raw  []byte
}

// Start serves SMTP on addr ("127.0.0.1:0" for any port) until the test
// ends.
func Start(t testing.TB, addr, user, pass string) *Server {
	t.Helper()
	s := &Server{user: user, pass: pass}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "mail.test"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.ErrorLog = logger{t}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	s.Addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { s.srv.Close() })
	return s
}

type logger struct{ t testing.TB }

func (l logger) Printf(format string, v ...any) { l.t.Logf("smtp: "+format, v...) }
func (l logger) Println(v ...any)               { l.t.Log(append([]any{"smtp:"}, v...)...) }

// Mails returns what the server has taken so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.got...)
}

// Wait waits for n messages in all and returns them.
func (s *Server) Wait(t testing.TB, n int) []Mail {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.Mails()) >= n }, 15*time.Second, 10*time.Millisecond, "waiting for %d mails", n)
	return s.Mails()
}

type session struct {
	s      *Server
	authed bool
	m      Mail
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return errors.New("invalid username or password")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.m = Mail{From: from}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.m.To = append(ss.m.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.m.Raw = b
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.m = Mail{} }
func (ss *session) Logout() error { return nil }
