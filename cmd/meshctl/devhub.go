package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// The dev system's vendor is a real hub: `meshctl dev` initializes hubd in
// its data directory, the masters trust the hub's vendor key, and the demo
// licenses are products, a customer and licenses made through the hub's
// API, as a vendor would make them.

const devHubAdmin = "admin@licmesh.dev"

var (
	hubInitPassword = regexp.MustCompile(`Password:\s+(\S+)`)
	hubKeyLine      = regexp.MustCompile(`(?m)^(\S+:\S+)\s+#`)
)

// devHub is the dev system's hub: where it listens, its admin and the
// vendor keys the masters trust.
type devHub struct {
	dir      string
	addr     string
	password string
	keys     []string
	client   licmeshv1connect.HubServiceClient
	// apiKey is the admin's key of this run, which activates the dev
	// cluster; pem is the hub's certificate, which the masters pin.
	apiKey string
	pem    []byte
}

func (d *devSystem) hubAddr() string { return fmt.Sprintf("127.0.0.1:%d", d.port(100)) }

// initHub makes the hub in the data directory (once: a kept directory
// keeps its hub, and its admin password in a file beside it) and reads
// the vendor keys the masters must trust.
func (d *devSystem) initHub(ctx context.Context) (*devHub, error) {
	h := &devHub{dir: filepath.Join(d.dir, "hub"), addr: d.hubAddr()}
	pwFile := filepath.Join(d.dir, "hub-admin-password")
	if _, err := os.Stat(h.dir); errors.Is(err, os.ErrNotExist) {
		out, err := exec.CommandContext(ctx, d.bins["hubd"], "init", "--data-dir", h.dir, "--listen", h.addr,
			"--admin-email", devHubAdmin, "--admin-name", "Dev Admin").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("dev: hubd init: %w: %s", err, out)
		}
		m := hubInitPassword.FindSubmatch(out)
		if m == nil {
			return nil, errors.New("dev: hubd init printed no admin password")
		}
		if err := os.WriteFile(pwFile, append(m[1], '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return nil, fmt.Errorf("dev: the hub's admin password: %w", err)
	}
	h.password = strings.TrimSpace(string(pw))
	out, err := exec.CommandContext(ctx, d.bins["hubd"], "keys", "list", "--data-dir", h.dir).Output()
	if err != nil {
		return nil, fmt.Errorf("dev: hubd keys list: %w", err)
	}
	for _, m := range hubKeyLine.FindAllSubmatch(out, -1) {
		h.keys = append(h.keys, string(m[1]))
	}
	if len(h.keys) == 0 {
		return nil, errors.New("dev: the hub has no vendor key")
	}
	return h, nil
}

// connect waits for the hub to answer, signs in as its admin and makes an
// API key for the rest of the run.
func (h *devHub) connect(ctx context.Context) error {
	pem, err := os.ReadFile(filepath.Join(h.dir, "hub-cert.pem"))
	if err != nil {
		return fmt.Errorf("dev: the hub's certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("dev: the hub's certificate does not parse")
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	url := "https://" + h.addr
	anon := licmeshv1connect.NewHubServiceClient(hc, url)
	var csrf string
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := anon.SignIn(ctx, connect.NewRequest(&licmeshv1.SignInRequest{Email: devHubAdmin, Password: h.password}))
		if err == nil {
			csrf = r.Msg.GetCsrfToken()
			break
		}
		if time.Now().After(deadline) || connect.CodeOf(err) == connect.CodeUnauthenticated {
			return fmt.Errorf("dev: sign in to the hub: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	session := licmeshv1connect.NewHubServiceClient(hc, url, connect.WithInterceptors(bearerHeader("X-CSRF-Token", csrf)))
	k, err := session.CreateAPIKey(ctx, connect.NewRequest(&licmeshv1.CreateAPIKeyRequest{Name: "meshctl dev"}))
	if err != nil {
		return fmt.Errorf("dev: hub API key: %w", err)
	}
	h.apiKey, h.pem = k.Msg.GetSecret(), pem
	h.client = licmeshv1connect.NewHubServiceClient(hc, url, connect.WithInterceptors(bearerHeader("Authorization", "Bearer "+h.apiKey)))
	return nil
}

func bearerHeader(k, v string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(k, v)
			return next(ctx, req)
		}
	}
}

// demoProducts are the products the demo licenses are issued from: a
// subscription with modules, a product sold with a trial, and one sold
// "on usage" with a soft pool.
func demoProducts() []*licmeshv1.Product {
	feature := func(name string) *licmeshv1.Feature {
		return &licmeshv1.Feature{Name: name, Type: "checkbox", Scope: "instance"}
	}
	return []*licmeshv1.Product{
		{Sku: "designer-suite", Name: "Designer Suite", Application: "designer", AppVersion: "1.0.0", Type: "subscription", Billing: "annually",
			LicenseTemplate: []*licmeshv1.TemplateEntry{
				{Name: "designer", Users: 5, UsersCalculation: "fixed"},
				{Name: "analyst", Users: 2, UsersCalculation: "per qty"},
			},
			Features: []*licmeshv1.Feature{feature("designer_export"), feature("designer_ai")}},
		{Sku: "reports", Name: "Reports", Application: "reports", AppVersion: "1.0.0", Type: "subscription", Billing: "monthly",
			TrialPeriodCount: 14, TrialPeriodUnit: "day",
			TrialTemplate:   []*licmeshv1.TemplateEntry{{Name: "reports", Users: 3}},
			LicenseTemplate: []*licmeshv1.TemplateEntry{{Name: "reports", Users: 1, UsersCalculation: "per qty"}}},
		{Sku: "viewer", Name: "Viewer (on usage)", Application: "viewer", AppVersion: "1.0.0", Type: "subscription", Billing: "monthly",
			LicenseTemplate: []*licmeshv1.TemplateEntry{{Name: "viewer", Users: 6, UsersCalculation: "fixed", Enforce: "soft"}}},
	}
}

// demoCustomer makes the demo customer's licenses at the hub, once (a
// kept directory has them), and returns the company's ID: a subscription
// with designer (hard, 5) and analyst (hard, 20) and one of its two
// modules on, a 14-day trial of reports (hard, 3), and an on-usage viewer
// license (soft, 6) with 5000 case credits. Activation binds them to the
// dev cluster.
func (h *devHub) demoCustomer(ctx context.Context) (string, error) {
	c := h.client
	companies, err := c.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	if err != nil {
		return "", err
	}
	var coID string
	for _, co := range companies.Msg.GetCompanies() {
		if co.GetName() == "Demo Customer" {
			coID = co.GetId()
		}
	}
	if coID == "" {
		for _, p := range demoProducts() {
			if _, err := c.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: p})); err != nil {
				return "", fmt.Errorf("dev: product %s: %w", p.GetSku(), err)
			}
		}
		co, err := c.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Demo Customer", Email: "it@demo-customer.example"}))
		if err != nil {
			return "", fmt.Errorf("dev: demo customer: %w", err)
		}
		coID = co.Msg.GetCompany().GetId()
		if _, err := c.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: coID, Sku: "designer-suite", Quantity: 10,
			Tailoring: &licmeshv1.Tailoring{DisableFeatures: []string{"designer_ai"}}})); err != nil {
			return "", fmt.Errorf("dev: designer-suite license: %w", err)
		}
		if _, err := c.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: coID, Sku: "reports"})); err != nil {
			return "", fmt.Errorf("dev: reports trial: %w", err)
		}
		if _, err := c.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: coID, Sku: "viewer", Quantity: 1,
			Tailoring: &licmeshv1.Tailoring{Credits: 5000, CreditUnit: "case"}})); err != nil {
			return "", fmt.Errorf("dev: viewer license: %w", err)
		}
	}
	return coID, nil
}

// activate ties the dev cluster to the hub as a customer's IT would
// (meshctl activate): the hub binds the demo customer's licenses to the
// cluster, the masters put them in force and start sending usage. A kept
// directory's cluster is activated again, which changes nothing.
func (h *devHub) activate(ctx context.Context, admin licmeshv1connect.AdminServiceClient, company string) error {
	_, err := admin.ActivateCluster(ctx, connect.NewRequest(&licmeshv1.ActivateClusterRequest{
		Hub: &licmeshv1.HubTarget{Url: "https://" + h.addr, CaPem: string(h.pem)}, ApiKey: h.apiKey, CompanyId: company}))
	if err != nil {
		return fmt.Errorf("dev: activate the cluster with the hub: %w", err)
	}
	return nil
}
