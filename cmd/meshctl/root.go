package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"connectrpc.com/connect"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

// app is one invocation of meshctl: where it writes, the settings it was
// given and the client it built from them. It is not shared between runs.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	cfg            config

	// ran is set once a command's own code starts: an error after that is
	// a failed call (exit 1), before it a usage error (exit 2).
	ran bool

	token string
	// secrets are taken out of every error printed besides the token: a
	// password read.
	secrets   []string
	transport *http.Transport
	admin     licmeshv1connect.AdminServiceClient
}

func newApp(stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdout: stdout, stderr: stderr, getenv: getenv, cfg: defaultConfig()}
}

// close releases the connections the client kept open.
func (a *app) close() {
	if a.transport != nil {
		a.transport.CloseIdleConnections()
	}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "meshctl",
		Short: "Operate a licmesh cluster through a master's admin API",
		Long: `meshctl operates a licmesh cluster through any master's admin API (HTTPS).

Calls to a master need an admin token (--token, --token-file or
LICMESH_TOKEN); give the cluster CA with --ca (or LICMESH_CA) so meshctl can
verify the master. "vendor" and "license verify" work offline, with no
cluster and no token.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.cfg.applyEnv(cmd.Flags(), a.getenv)
		},
	}
	a.cfg.bindFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{msg: err.Error()}
	})
	root.AddCommand(
		a.statusCommand(),
		a.membersCommand(),
		a.poolCommand(),
		a.leaseCommand(),
		a.alertCommand(),
		a.tokenCommand(),
		a.userCommand(),
		a.whoamiCommand(),
		a.auditCommand(),
		a.deptCommand(),
		a.complianceCommand(),
		a.reportCommand(),
		a.purchaseCommand(),
		a.updateCommand(),
		a.collectorCommand(),
		a.operatorCommand(),
		a.licenseCommand(),
		a.usageCommand(),
		a.activateCommand(),
		a.upstreamCommand(),
		a.vendorCommand(),
		a.hubCommand(),
		a.devCommand(),
		a.versionCommand(),
	)
	return root
}

// group is a command that only holds others. Run alone it shows its help;
// with an argument that is no subcommand, it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	g.AddCommand(subs...)
	return g
}

// action wraps a command's body so that errors from it count as failures
// rather than usage errors.
func (a *app) action(f func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		return f(cmd.Context(), args)
	}
}

// noArgs rejects any positional argument, naming it.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// oneArg requires exactly one non-empty positional argument called name.
func oneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usagef("%s needs the %s", cmd.CommandPath(), name)
		case len(args) > 1:
			return usagef("%s takes only the %s; unexpected %q", cmd.CommandPath(), name, args[1])
		case args[0] == "":
			return usagef("%s: the %s is empty", cmd.CommandPath(), name)
		}
		return nil
	}
}

// client builds the admin client on first use, so that commands needing
// no master (version, help) need no token either.
func (a *app) client() (licmeshv1connect.AdminServiceClient, error) {
	if a.admin != nil {
		return a.admin, nil
	}
	if err := a.cfg.validate(); err != nil {
		return nil, err
	}
	token, err := a.cfg.loadToken()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := a.cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	a.token = token
	a.transport = a.cfg.transport(tlsCfg)
	a.admin = licmeshv1connect.NewAdminServiceClient(
		&http.Client{Transport: a.transport},
		a.cfg.Addr,
		connect.WithInterceptors(bearer(token)),
	)
	return a.admin, nil
}

// bearer sends the admin token on every call.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

// call makes one unary call to the master within --timeout and explains
// its failure.
func call[Req, Res any](ctx context.Context, a *app,
	fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req,
) (*Res, error) {
	return unary(ctx, a.masterTarget(), fn, req)
}

// unary makes one unary call to t within its timeout and explains its
// failure.
func unary[Req, Res any](ctx context.Context, t callTarget,
	fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req,
) (*Res, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	res, err := fn(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, t.explain(err, procedureName(req))
	}
	return res.Msg, nil
}

// procedureName names the call a request is for, for error messages.
func procedureName(req any) string {
	m, ok := req.(proto.Message)
	if !ok {
		return fmt.Sprintf("%T", req)
	}
	name := string(m.ProtoReflect().Descriptor().Name())
	if len(name) > len("Request") {
		name = name[:len(name)-len("Request")]
	}
	return name
}
