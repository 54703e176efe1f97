package harness

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Hub is one hubd process, made with `hubd init` and run with `hubd run`.
type Hub struct {
	t       testing.TB
	Dir     string
	Port    int
	Proc    *Proc
	common  []string // the flags init and run share
	logPath string
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
// free loopback port, on SQLite.
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
	h.common, h.logPath = common, filepath.Join(t.TempDir(), "hubd.log")
	h.Start()
	t.Cleanup(func() { h.Proc.Kill() })
	DumpOnFailure(t, func() *Proc { return h.Proc })
	return h
}

// Start (re)starts the hub's process on its data directory and port, with
// extra flags for this run only, and waits until it is ready.
func (h *Hub) Start(extraArgs ...string) {
	t := h.t
	t.Helper()
	bin, err := Binaries()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"run", "--log-level", "debug"}, h.common...), extraArgs...)
	h.Proc, err = StartProc("hubd", filepath.Join(bin, "hubd"), args, nil, h.logPath)
	if err != nil {
		t.Fatal(err)
	}
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
}

// Stop stops the hub's process (SIGTERM, then kill).
func (h *Hub) Stop() { _ = h.Proc.Stop(10 * time.Second) }

// CertFile is the hub's self-signed certificate, which masters pin.
func (h *Hub) CertFile() string { return filepath.Join(h.Dir, "hub-cert.pem") }

// StartHubOnPostgres is StartHub on a fresh database of the PostgreSQL
// that LICMESH_TEST_PG_DSN names (make test starts one). Without it the
// test is skipped, saying why; in CI it fails instead.
func StartHubOnPostgres(t testing.TB, extraArgs ...string) *Hub {
	t.Helper()
	dsn := os.Getenv("LICMESH_TEST_PG_DSN")
	if dsn == "" {
		msg := "LICMESH_TEST_PG_DSN is not set (make test starts a PostgreSQL and sets it)"
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %s", msg)
		}
		t.Skipf("SKIPPED, no PostgreSQL: %s", msg)
	}
	db, err := freshDatabase(t, dsn)
	if err != nil {
		t.Fatalf("a database for the hub: %v", err)
	}
	file := filepath.Join(t.TempDir(), "pg-dsn")
	if err := os.WriteFile(file, []byte(db), 0o600); err != nil {
		t.Fatal(err)
	}
	return StartHub(t, append([]string{"--database", "postgres", "--postgres-dsn-file", file}, extraArgs...)...)
}

// freshDatabase creates a database of its own for one test and returns
// its DSN; it is dropped when the test ends.
func freshDatabase(t testing.TB, dsn string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("e2e_hub_%x", b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(cfg.User, cfg.Password), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + name,
		RawQuery: "sslmode=disable"}
	if strings.HasPrefix(cfg.Host, "/") {
		u.Host, u.RawQuery = "", "host="+url.QueryEscape(cfg.Host)+fmt.Sprintf("&port=%d&sslmode=disable", cfg.Port)
	}
	return u.String(), nil
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
