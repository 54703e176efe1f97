package main

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// hubApp is the hub side of one meshctl invocation: the hub settings and
// the client built from them. Like app, it is not shared between runs.
type hubApp struct {
	a   *app
	cfg hubConfig

	// secrets are taken out of every error printed: the API key in use,
	// a password read, a key just made.
	secrets []string

	transport *http.Transport
	key       string
	hub       licmeshv1connect.HubServiceClient
}

func (a *app) hubCommand() *cobra.Command {
	h := &hubApp{a: a, cfg: defaultHubConfig(a.getenv)}
	g := group("hub", "Operate the vendor hub: products, customers, licenses, accounts",
		h.loginCommand(),
		h.logoutCommand(),
		h.passwordCommand(),
		h.whoamiCommand(),
		h.productCommand(),
		h.resellerCommand(),
		h.companyCommand(),
		h.accountCommand(),
		h.keyCommand(),
		h.licenseCommand(),
		h.subscriptionCommand(),
		h.siteCommand(),
		h.usageCommand(),
		h.auditCommand(),
		h.quoteCommand(),
		h.vendorKeysCommand(),
		h.releaseCommand(),
	)
	g.Long = `meshctl hub operates the vendor hub (hubd) through its API (HTTPS, port 7500):
products and their license templates, resellers and customer companies,
licenses and trials, staff accounts and API keys, the audit log and the
vendor keys that masters trust.

Sign in once with "meshctl hub login --email E": it makes an API key and
keeps it in ~/.config/licmesh/hub-key, where the other hub commands find it.
Or give a key with --hub-key, --hub-key-file, LICMESH_HUB_KEY or
LICMESH_HUB_KEY_FILE.

The hub's certificate is self-signed unless its operator configured one:
pin the SHA-256 fingerprint "hubd init" printed with --hub-fingerprint (or
LICMESH_HUB_FINGERPRINT), or give the certificate's PEM
(<data_dir>/hub-cert.pem) with --hub-ca. The hub settings are separate from
the master's (--addr, --token, --ca): the two are different servers.`
	h.cfg.bindFlags(g.PersistentFlags())
	g.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		// This hook replaces the root's, whose --timeout the hub shares.
		if err := a.cfg.applyEnv(cmd.Flags(), a.getenv); err != nil {
			return err
		}
		h.cfg.applyEnv(cmd.Flags(), a.getenv)
		return nil
	}
	return g
}

// action wraps a hub command's body like app.action, and keeps every
// secret of the invocation out of its error.
func (h *hubApp) action(f func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return h.a.action(func(ctx context.Context, args []string) error {
		return h.redact(f(ctx, args))
	})
}

// httpClient is an HTTP client that verifies the hub as the settings say;
// jar keeps a session's cookie, for login.
func (h *hubApp) httpClient(jar http.CookieJar) (*http.Client, error) {
	if h.transport == nil {
		if err := h.cfg.validate(); err != nil {
			return nil, err
		}
		if h.a.cfg.Timeout <= 0 {
			return nil, usagef("--timeout must be positive, got %s", h.a.cfg.Timeout)
		}
		tlsCfg, err := h.cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		h.transport = h.a.cfg.transport(tlsCfg)
		// app.close releases the transport it holds; an invocation runs
		// one command, so no master transport is displaced.
		h.a.transport = h.transport
	}
	return &http.Client{Transport: h.transport, Jar: jar}, nil
}

// client builds the hub client on first use, with the API key.
func (h *hubApp) client() (licmeshv1connect.HubServiceClient, error) {
	if h.hub != nil {
		return h.hub, nil
	}
	hc, err := h.httpClient(nil)
	if err != nil {
		return nil, err
	}
	key, err := h.cfg.loadKey()
	if err != nil {
		return nil, err
	}
	h.key = key
	h.secrets = append(h.secrets, key)
	h.hub = licmeshv1connect.NewHubServiceClient(hc, h.cfg.Addr, connect.WithInterceptors(bearer(key)))
	return h.hub, nil
}

// hubCall makes one unary call to the hub within --timeout and explains its
// failure.
func hubCall[Req, Res any](ctx context.Context, h *hubApp,
	fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req,
) (*Res, error) {
	return unary(ctx, h.hubTarget(), fn, req)
}

// run is the usual body of a hub command: get the client, then f.
func (h *hubApp) run(f func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error) func(*cobra.Command, []string) error {
	return h.action(func(ctx context.Context, args []string) error {
		hub, err := h.client()
		if err != nil {
			return err
		}
		return f(ctx, hub, args)
	})
}
