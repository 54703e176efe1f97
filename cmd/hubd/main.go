// Command hubd is the licmesh vendor hub: products and license templates,
// customers and resellers, signed licenses and trials, the accounts and
// roles of the vendor's staff, and the customer portal.
//
//	hubd init --data-dir DIR --admin-email EMAIL   # once: keys, database, first admin
//	hubd run [--config FILE]                       # serve HTTPS on 7500
//	hubd keys list | rotate                        # the vendor signing keys
//	hubd version
//
// Configuration: DefaultConfig, then --config (strict YAML), then
// LICMESH_HUB_* environment variables, then flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/node/hub"
	"github.com/licmesh/licmesh/node/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ error }

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "hubd",
		Short:         "licmesh vendor hub: products, customers, signed licenses and trials",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(initCmd(stdout, stderr), runCmd(stderr), keysCmd(stdout, stderr), &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, version.Version) },
	})
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "hubd:", err)
		var ue usageError
		if errors.As(err, &ue) || isCobraUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}

// isCobraUsage reports whether err is cobra's own complaint about the
// command line (an unknown command or a wrong number of arguments).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "unknown flag", "unknown shorthand flag", "requires "} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// configFlags binds the flags every command that opens the hub takes.
type configFlags struct {
	file        string
	cfg         hub.Config
	clockOffset time.Duration
}

func (c *configFlags) bind(f *pflag.FlagSet) {
	c.cfg = hub.DefaultConfig()
	f.StringVar(&c.file, "config", "", "YAML configuration file")
	f.StringVar(&c.cfg.DataDir, "data-dir", c.cfg.DataDir, "data directory (keys, certificate, SQLite database)")
	f.StringVar(&c.cfg.Listen, "listen", c.cfg.Listen, "HTTPS address")
	f.StringVar(&c.cfg.Database, "database", c.cfg.Database, "sqlite or postgres")
	f.StringVar(&c.cfg.PostgresDSNFile, "postgres-dsn-file", "", "file holding the PostgreSQL connection string")
	f.StringVar(&c.cfg.TLSCertFile, "tls-cert-file", "", "TLS certificate (PEM); default: the self-signed one in the data directory")
	f.StringVar(&c.cfg.TLSKeyFile, "tls-key-file", "", "TLS key (PEM)")
	f.StringVar(&c.cfg.LogLevel, "log-level", c.cfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&c.cfg.LogFormat, "log-format", c.cfg.LogFormat, "text or json")
	f.DurationVar(&c.clockOffset, "debug-clock-offset", 0, "shift the hub's clock (tests of long outages)")
	_ = f.MarkHidden("debug-clock-offset")
}

// load is the configuration: defaults, file, environment, then the flags
// the user set.
func (c *configFlags) load(cmd *cobra.Command, stderr io.Writer) (hub.Config, error) {
	cfg := hub.DefaultConfig()
	if c.file != "" {
		if err := confload.File(c.file, &cfg); err != nil {
			return hub.Config{}, err
		}
	}
	if err := confload.Env("LICMESH_HUB_", &cfg, nil); err != nil {
		return hub.Config{}, err
	}
	var changed []string
	cmd.Flags().Visit(func(f *pflag.Flag) { changed = append(changed, f.Name) })
	confload.Flags(&cfg, &c.cfg, changed)
	if err := cfg.Validate(); err != nil {
		return hub.Config{}, err
	}
	if c.clockOffset != 0 {
		cfg.Clock = clock.Offset(c.clockOffset)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, opts))
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, opts))
	}
	return cfg, nil
}

func initCmd(stdout, stderr io.Writer) *cobra.Command {
	var cf configFlags
	var email, name string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "create the hub: data directory, keys, certificate, database and the first admin",
		Long: `Create a new hub in the data directory: the data key that seals the vendor's
signing keys (data.key), a self-signed TLS certificate (unless one is given),
the database (SQLite in the data directory, or PostgreSQL), the first vendor
signing key and the first admin account. The admin's password is printed once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email == "" {
				return usageError{errors.New("--admin-email is required")}
			}
			cfg, err := cf.load(cmd, stderr)
			if err != nil {
				return err
			}
			r, err := hub.Init(cmd.Context(), cfg, email, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, `licmesh hub created in %s.

  Admin:        %s
  Password:     %s   (shown once; change it after signing in)
  Vendor key:   %s
  Masters trust licenses signed by it with:
    vendor_keys: ["%s"]
`, cfg.DataDir, r.AdminEmail, r.AdminPassword, r.KeyID, r.PublicKey)
			if r.Fingerprint != "" {
				fmt.Fprintf(stdout, "  TLS:          self-signed certificate, SHA-256 fingerprint\n                %s\n", r.Fingerprint)
			}
			fmt.Fprintf(stdout, "\nStart it with: hubd run --data-dir %s\n", cfg.DataDir)
			return nil
		},
	}
	cf.bind(cmd.Flags())
	cmd.Flags().StringVar(&email, "admin-email", "", "email of the first admin account")
	cmd.Flags().StringVar(&name, "admin-name", "Administrator", "name of the first admin account")
	return cmd
}

func runCmd(stderr io.Writer) *cobra.Command {
	var cf configFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "serve the hub (HTTPS API and pages)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load(cmd, stderr)
			if err != nil {
				return err
			}
			s, err := hub.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Run(cmd.Context(), nil)
		},
	}
	cf.bind(cmd.Flags())
	return cmd
}

func keysCmd(stdout, stderr io.Writer) *cobra.Command {
	var cf configFlags
	open := func(cmd *cobra.Command) (*hub.Server, error) {
		cfg, err := cf.load(cmd, stderr)
		if err != nil {
			return nil, err
		}
		return hub.New(cmd.Context(), cfg)
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "print every vendor public key, as masters' vendor_keys take them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := s.VendorKeys(cmd.Context())
			if err != nil {
				return err
			}
			for _, k := range keys {
				state := "signing"
				if !k.RetiredAt.IsZero() {
					state = "retired " + k.RetiredAt.Format("2006-01-02")
				}
				fmt.Fprintf(stdout, "%s\t# %s\n", k.PublicKey, state)
			}
			return nil
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "make a new signing key; the old ones keep verifying what they signed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			k, err := s.RotateVendorKey(cmd.Context(), "hubd keys rotate")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new signing key %s\nadd it to every master's vendor_keys (keep the old ones):\n  %s\n", k.KeyID, k.PublicKey)
			return nil
		},
	}
	rotateRelease := &cobra.Command{
		Use:   "rotate-release",
		Short: "make new release signing keys, trusted through a new root signed by the old keys and the new",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			v, err := s.RotateReleaseKeys(cmd.Context(), "hubd keys rotate-release")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "release root version %d signs with the new keys; sites follow it at their next check (or bundle)\n", v)
			return nil
		},
	}
	keys := &cobra.Command{Use: "keys", Short: "the vendor signing keys", Args: cobra.NoArgs}
	cf.bind(keys.PersistentFlags())
	keys.AddCommand(list, rotate, rotateRelease)
	return keys
}
