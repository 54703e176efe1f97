package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Hub is one hubd process, made with `hubd init` and run with `hubd run`.
type Hub struct {
	t       testing.TB
	Dir     string
	Port    int
	Proc    *Proc
	Admin   string // the first admin's email
	Pass    string // and its password, printed once by init
	Vendor  string // the vendor key line masters trust ("key-id:base64")
	InitOut string
}

var (
	initPassword = regexp.MustCompile(`Password:\s+(\S+)`)
	initVendor   = regexp.MustCompile(`vendor_keys: \["([^"]+)"\]`)
)

// StartHub initializes a hub in a temporary directory and runs it on a
// free loopback port.
func StartHub(t testing.TB, extraArgs ...string) *Hub {
	t.Helper()
	bin, err := Binaries()
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{t: t, Dir: filepath.Join(t.TempDir(), "hub"), Port: port, Admin: "admin@vendor.example"}
	common := append([]string{"--data-dir", h.Dir, "--listen", h.Addr()}, extraArgs...)
	out, errOut, code := RunCmd(filepath.Join(bin, "hubd"), append([]string{"init", "--admin-email", h.Admin}, common...), nil)
	if code != 0 {
		t.Fatalf("hubd init: exit %d: %s", code, errOut)
	}
	h.InitOut = out
	pw, vk := initPassword.FindStringSubmatch(out), initVendor.FindStringSubmatch(out)
	if pw == nil || vk == nil {
		t.Fatalf("hubd init printed no password or vendor key:\n%s", out)
	}
	h.Pass, h.Vendor = pw[1], vk[1]
	h.Proc, err = StartProc("hubd", filepath.Join(bin, "hubd"), append([]string{"run", "--log-level", "debug"}, common...), nil,
		filepath.Join(t.TempDir(), "hubd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Proc.Kill)
	DumpOnFailure(t, func() *Proc { return h.Proc })
	hc := h.HTTPClient()
	if err := poll(20*time.Second, func() error {
		resp, err := hc.Get("https://" + h.Addr() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		t.Fatalf("hubd did not become ready: %v", err)
	}
	return h
}

// Addr is the hub's host:port.
func (h *Hub) Addr() string { return fmt.Sprintf("127.0.0.1:%d", h.Port) }

// URL is the hub's base URL.
func (h *Hub) URL() string { return "https://" + h.Addr() }

// HTTPClient trusts the hub's self-signed certificate and keeps cookies.
func (h *Hub) HTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: &http.Transport{
		// The hub's own self-signed certificate, made by hubd init here.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
}

// Client calls the hub with an API key.
func (h *Hub) Client(apiKey string) licmeshv1connect.HubServiceClient {
	return licmeshv1connect.NewHubServiceClient(h.HTTPClient(), h.URL(), connect.WithInterceptors(bearer(apiKey)))
}

// SignIn signs in with a password and returns an API key of that account,
// made through the signed-in session (with its CSRF token).
func (h *Hub) SignIn(email, password string) (string, error) {
	hc := h.HTTPClient()
	c := licmeshv1connect.NewHubServiceClient(hc, h.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := c.SignIn(ctx, connect.NewRequest(&licmeshv1.SignInRequest{Email: email, Password: password}))
	if err != nil {
		return "", err
	}
	csrf := r.Msg.GetCsrfToken()
	withCSRF := licmeshv1connect.NewHubServiceClient(hc, h.URL(), connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("X-CSRF-Token", csrf)
				return next(ctx, req)
			}
		})))
	k, err := withCSRF.CreateAPIKey(ctx, connect.NewRequest(&licmeshv1.CreateAPIKeyRequest{Name: "e2e"}))
	if err != nil {
		return "", err
	}
	return k.Msg.GetSecret(), nil
}

// AdminClient is a client of the first admin.
func (h *Hub) AdminClient() licmeshv1connect.HubServiceClient {
	h.t.Helper()
	key, err := h.SignIn(h.Admin, h.Pass)
	if err != nil {
		h.t.Fatalf("sign in as %s: %v", h.Admin, err)
	}
	return h.Client(key)
}
