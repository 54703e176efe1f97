package mailer_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/mailer"
	"github.com/licmesh/licmesh/mesh/mailer/mailertest"
)

// TestSend: a message reaches a real SMTP server, signed in, with its
// Message-ID made from its ID.
func TestSend(t *testing.T) {
	srv := mailertest.Start(t, "127.0.0.1:0", "alerts", "smtp-secret")
	host, port, err := net.SplitHostPort(srv.Addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	c := mailer.Config{Host: host, Port: p, TLS: "none", Username: "alerts", Password: "smtp-secret", From: "licmesh <alerts@site.example>"}
	err = mailer.Send(t.Context(), c, mailer.Message{ID: "a-1", IDHost: "site.example", To: []string{"ops@site.example"},
		Subject: "License expires in 5 days", Text: "Renew it.", Date: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	got := srv.Wait(t, 1)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"ops@site.example"}, got[0].To)
	raw := string(got[0].Raw)
	assert.Contains(t, raw, "Message-ID: <a-1@site.example>")
	assert.Contains(t, raw, "Subject: License expires in 5 days")

	c.Password = "wrong"
	err = mailer.Send(t.Context(), c, mailer.Message{ID: "a-2", IDHost: "x", To: []string{"ops@site.example"}, Subject: "s", Text: "t"})
	require.Error(t, err)
	assert.False(t, mailer.PermanentFailure(err), "a refused sign-in is the operator's to fix, and worth retrying")
}

// TestValidate names each bad setting by the caller's names.
func TestValidate(t *testing.T) {
	var got []string
	bad := func(field, format string, args ...any) { got = append(got, field) }
	mailer.Config{Host: "smtp.example.com", TLS: "starttls", From: "a@b.example"}.Validate("smtp_", "mail_from", false, bad)
	assert.Empty(t, got)
	mailer.Config{TLS: "ssl", Port: 70000, Username: "u", Host: "smtp.example.com", From: "nope"}.Validate("smtp_", "mail_from", false, bad)
	assert.Equal(t, []string{"smtp_tls", "smtp_port", "smtp_username", "mail_from"}, got)
	got = nil
	mailer.Config{Host: "smtp.example.com", TLS: "none", Username: "u", From: "a@b.example"}.Validate("smtp_", "mail_from", true, bad)
	assert.Equal(t, []string{"smtp_username"}, got, "a password without TLS to another host")
	assert.Equal(t, 465, mailer.Config{TLS: "tls"}.PortOrDefault())
	assert.True(t, mailer.LoopbackHost("::1"))
}
