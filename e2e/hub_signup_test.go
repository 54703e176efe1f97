package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// TestHubSignUp is seed 001's "trial" button against the real hubd and a
// real SMTP server: a sign-up with no credential mails a set-password link
// and a trial license that meshctl verifies with the hub's vendor key; the
// link sets the password and signs in, once.
func TestHubSignUp(t *testing.T) {
	mailSrv := startMailServer(t, "hub", "smtp-secret")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "smtp.pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("smtp-secret\n"), 0o600))
	host, port, err := net.SplitHostPort(mailSrv.addr)
	require.NoError(t, err)
	cfgFile := filepath.Join(dir, "hubd.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(fmt.Sprintf(`smtp_host: %s
smtp_port: %s
smtp_tls: none
smtp_username: hub
smtp_password_file: %s
mail_from: "Vendor <noreply@vendor.example>"
signup_product: timesheet-admin
signup_rate: 3
`, host, port, pwFile)), 0o600))
	hub := harness.StartHub(t, "--config", cfgFile)
	ctx := t.Context()
	_, err = hub.AdminClient().SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: hubProduct()}))
	require.NoError(t, err)

	public := licmeshv1connect.NewHubServiceClient(hub.HTTPClient(), hub.URL())
	r, err := public.SignUp(ctx, connect.NewRequest(&licmeshv1.SignUpRequest{Email: "Jane@Acme.example", Company: "Acme Corp"}))
	require.NoError(t, err)
	assert.Equal(t, "jane@acme.example", r.Msg.GetEmail())
	_, err = public.SignUp(ctx, connect.NewRequest(&licmeshv1.SignUpRequest{Email: "not an address", Company: "Acme Corp"}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	// The mail: to Jane, with the link and the license, attached and in
	// the body.
	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, []string{"jane@acme.example"}, m.to)
	link := regexp.MustCompile(`https://\S+/signup/confirm\?token=[A-Za-z0-9_-]+`).FindString(m.text)
	require.True(t, strings.HasPrefix(link, hub.URL()+"/signup/confirm?token="), "link %q in:\n%s", link, m.text)
	require.Len(t, m.attachments, 1)
	var licFile, licText string
	for name, body := range m.attachments {
		licFile, licText = filepath.Join(dir, name), body
	}
	assert.Contains(t, m.text, strings.TrimSpace(licText))
	require.NoError(t, os.WriteFile(licFile, []byte(licText), 0o600))
	bin, err := harness.Binaries()
	require.NoError(t, err)
	out, errOut, code := harness.RunCmd(filepath.Join(bin, "meshctl"), []string{"license", "verify", licFile, "--vendor-key", hub.Vendor}, nil)
	require.Equal(t, 0, code, "meshctl license verify: %s", errOut)
	assert.Contains(t, out, strings.TrimSuffix(filepath.Base(licFile), ".lic"))
	assert.Contains(t, out, "Acme Corp")
	assert.Contains(t, out, "trial")

	// The link: a form, then the password, then Jane is signed in.
	hc := hub.HTTPClient()
	resp, err := hc.Get(link)
	require.NoError(t, err)
	page := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, nonce, page)
	u, err := url.Parse(link)
	require.NoError(t, err)
	form := url.Values{"token": {u.Query().Get("token")}, "nonce": {nonce[1]}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}
	resp, err = hc.PostForm(hub.URL()+"/signup/confirm", form)
	require.NoError(t, err)
	page = readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	csrf := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(page)
	require.NotNil(t, csrf, page)
	withCSRF := licmeshv1connect.NewHubServiceClient(hc, hub.URL(), connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("X-CSRF-Token", csrf[1])
				return next(ctx, req)
			}
		})))
	me, err := withCSRF.WhoAmI(ctx, connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	require.NoError(t, err)
	assert.Equal(t, "jane@acme.example", me.Msg.GetEmail())
	assert.Equal(t, "customer", me.Msg.GetRole())
	key, err := hub.SignIn("jane@acme.example", "correct horse battery")
	require.NoError(t, err, "the password set from the link signs in")
	ls, err := hub.Client(key).ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{}))
	require.NoError(t, err)
	require.Len(t, ls.Msg.GetLicenses(), 1)
	assert.Equal(t, strings.TrimSuffix(filepath.Base(licFile), ".lic"), ls.Msg.GetLicenses()[0].GetId())

	// Used once.
	resp, err = hub.HTTPClient().Get(link)
	require.NoError(t, err)
	readBody(t, resp)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	resp, err = hc.PostForm(hub.URL()+"/signup/confirm", form)
	require.NoError(t, err)
	readBody(t, resp)
	assert.NotEqual(t, http.StatusOK, resp.StatusCode, "the link is used up")
	assert.Len(t, mailSrv.all(), 1)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// mailServer is a real SMTP server (emersion/go-smtp) on loopback that
// requires AUTH PLAIN and keeps what it is given.
type mailServer struct {
	addr       string
	user, pass string
	mu         sync.Mutex
	raw        []mailRecord
}

type mailRecord struct {
	to  []string
	raw []byte
}

// receivedMail is a message as its reader sees it.
type receivedMail struct {
	to          []string
	text        string
	attachments map[string]string
}

func startMailServer(t *testing.T, user, pass string) *mailServer {
	t.Helper()
	ms := &mailServer{user: user, pass: pass}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{ms: ms}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "mail.test", true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ms.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *mailServer) all() []mailRecord {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]mailRecord(nil), ms.raw...)
}

// wait waits for n messages and returns them, parsed.
func (ms *mailServer) wait(t *testing.T, n int) []receivedMail {
	t.Helper()
	require.Eventually(t, func() bool { return len(ms.all()) >= n }, 30*time.Second, 20*time.Millisecond, "waiting for %d mails", n)
	var out []receivedMail
	for _, r := range ms.all() {
		out = append(out, parseMIME(t, r))
	}
	return out
}

type mailSession struct {
	ms     *mailServer
	authed bool
	rec    mailRecord
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ms.user || pass != s.ms.pass {
			return errors.New("invalid username or password")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.rec = mailRecord{}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rec.to = append(s.rec.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.rec.raw = b
	s.ms.mu.Lock()
	s.ms.raw = append(s.ms.raw, s.rec)
	s.ms.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.rec = mailRecord{} }
func (s *mailSession) Logout() error { return nil }

// parseMIME reads a message's text part and its attachments.
func parseMIME(t *testing.T, r mailRecord) receivedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(r.raw))
	require.NoError(t, err)
	out := receivedMail{to: r.to, attachments: map[string]string{}}
	var walk func(ctype, cte, disposition string, body io.Reader)
	walk = func(ctype, cte, disposition string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ctype)
		require.NoError(t, err)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				require.NoError(t, err)
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
			}
		}
		if strings.EqualFold(cte, "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		require.NoError(t, err)
		if d, dp, err := mime.ParseMediaType(disposition); err == nil && d == "attachment" {
			out.attachments[dp["filename"]] = string(b)
		} else if mt == "text/plain" {
			out.text = strings.ReplaceAll(string(b), "\r\n", "\n")
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return out
}
