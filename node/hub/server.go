package hub

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Server is a running hub.
type Server struct {
	cfg         Config
	clk         clock.Clock
	log         *slog.Logger
	store       *store.Store
	key         *dataKey
	cert        tls.Certificate
	fingerprint string
	m           *metrics
	// mail is nil when the hub sends no mail; hook when it posts no
	// webhook for its alerts.
	mail *mailService
	hook *hubWebhook
}

// storeConfig is where cfg keeps its database.
func (c *Config) storeConfig() (store.Config, error) {
	if store.Engine(c.Database) == store.Postgres {
		dsn := c.PostgresDSN
		if c.PostgresDSNFile != "" {
			b, err := confload.ReadFile(c.PostgresDSNFile, 64<<10)
			if err != nil {
				return store.Config{}, fmt.Errorf("config: postgres_dsn_file: %w", err)
			}
			dsn = strings.TrimSpace(string(b))
		}
		return store.Config{Engine: store.Postgres, DSN: dsn}, nil
	}
	return store.Config{Engine: store.SQLite, Path: filepath.Join(c.DataDir, "hub.db")}, nil
}

// New opens the hub that `hubd init` made in cfg.DataDir.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := loadDataKey(filepath.Join(cfg.DataDir, dataKeyFile))
	if err != nil {
		return nil, err
	}
	cert, fp, err := cfg.loadCertificate()
	if err != nil {
		return nil, err
	}
	ms, err := newMailService(cfg)
	if err != nil {
		return nil, err
	}
	hook, err := newHubWebhook(cfg)
	if err != nil {
		return nil, err
	}
	sc, err := cfg.storeConfig()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, sc)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, clk: cfg.clock(), log: cfg.Logger, store: st, key: key, cert: cert, fingerprint: fp, mail: ms, hook: hook}
	s.m = newMetrics(s)
	if err := s.ensureReleaseRepo(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("hub: release repository: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Server) Close() error { return s.store.Close() }

// Fingerprint is the SHA-256 fingerprint of the hub's TLS certificate.
func (s *Server) Fingerprint() string { return s.fingerprint }

// Run serves HTTPS on cfg.Listen until ctx ends, then shuts down
// gracefully (in-flight requests get 10 s).
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("hub: listen %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{s.cert}},
		ReadHeaderTimeout: 10 * time.Second,
		// A client that sends its body or reads its answer slower than
		// this holds a connection for nothing: no call takes that long.
		ReadTimeout:  time.Minute,
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.mail != nil {
		s.mail.listenAddr = ln.Addr().String()
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	go s.pruneLoop(ctx)
	// The mail sender stops before Run returns: the caller then closes
	// the store under it.
	mailCtx, stopMail := context.WithCancel(ctx)
	var mailDone sync.WaitGroup
	mailDone.Go(func() { s.mailLoop(mailCtx) })
	mailDone.Go(func() { s.vendorAlertLoop(mailCtx) })
	mailDone.Go(func() { s.releaseLoop(mailCtx) })
	defer func() { stopMail(); mailDone.Wait() }()
	s.log.Info("hub: serving", "addr", ln.Addr().String(), "database", s.store.Engine(), "tls_fingerprint", s.fingerprint)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-done:
		return fmt.Errorf("hub: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("hub: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pruneLoop deletes sign-in records past their retention and expired
// sessions, hourly.
func (s *Server) pruneLoop(ctx context.Context) {
	for {
		now := s.clk.Now()
		err := s.store.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Prune(ctx, now.Add(-s.cfg.SigninRetention), now)
			return err
		})
		if err != nil && ctx.Err() == nil {
			s.log.Warn("hub: pruning sign-ins and sessions failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clk.After(time.Hour):
		}
	}
}

// InitResult is what `hubd init` prints once.
type InitResult struct {
	AdminEmail    string
	AdminPassword string
	KeyID         string
	PublicKey     string
	Fingerprint   string
}

// Init makes a new hub in cfg.DataDir: the directory (0700), the data key,
// the self-signed certificate (unless one is configured), the database,
// the first vendor signing key and the first admin account, whose password
// it returns (shown once). It refuses a directory that already has a hub.
func Init(ctx context.Context, cfg Config, adminEmail, adminName string) (InitResult, error) {
	if err := cfg.Validate(); err != nil {
		return InitResult{}, err
	}
	email, err := store.NormalizeEmail(adminEmail)
	if err != nil {
		return InitResult{}, fmt.Errorf("%w: --admin-email: %w", ErrInvalidArgument, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return InitResult{}, fmt.Errorf("hub: data dir: %w", err)
	}
	keyPath := filepath.Join(cfg.DataDir, dataKeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		return InitResult{}, fmt.Errorf("hub: %s already holds a hub (%s exists)", cfg.DataDir, dataKeyFile)
	}
	now := cfg.clock().Now()
	var res InitResult
	if cfg.TLSCertFile == "" {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		if res.Fingerprint, err = makeSelfSigned(cfg.DataDir, []string{host}, now); err != nil {
			return InitResult{}, fmt.Errorf("hub: certificate: %w", err)
		}
	}
	key, err := createDataKey(keyPath)
	if err != nil {
		return InitResult{}, err
	}
	sc, err := cfg.storeConfig()
	if err != nil {
		return InitResult{}, err
	}
	st, err := store.Open(ctx, sc)
	if err != nil {
		return InitResult{}, err
	}
	defer st.Close()
	password := newPassword()
	hash, err := hashPassword(password)
	if err != nil {
		return InitResult{}, err
	}
	err = st.Tx(ctx, func(tx *store.Tx) error {
		if accounts, err := tx.ListAccounts(ctx, store.AccountFilter{Role: store.RoleAdmin}); err != nil {
			return err
		} else if len(accounts) > 0 {
			return fmt.Errorf("hub: the database already has an admin (%s)", accounts[0].Email)
		}
		vk, err := newVendorKey(key, now)
		if err != nil {
			return err
		}
		if err := tx.AddVendorKey(ctx, vk); err != nil {
			return err
		}
		res.KeyID, res.PublicKey = vk.KeyID, vk.PublicKey
		a := store.Account{ID: store.NewAccountID(), Email: email, Name: adminName, Role: store.RoleAdmin, PasswordHash: hash, CreatedAt: now}
		if _, err := tx.CreateAccount(ctx, a); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "hub.init", Target: string(a.ID), Detail: "first admin " + email + ", vendor key " + vk.KeyID, Remote: "local"})
	})
	if err != nil {
		return InitResult{}, err
	}
	res.AdminEmail, res.AdminPassword = email, password
	return res, nil
}

// newVendorKey makes a signing key, its private half sealed with key.
func newVendorKey(key *dataKey, now time.Time) (store.VendorKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return store.VendorKey{}, err
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	id := license.KeyID(fmt.Sprintf("hub-%s-%x", now.UTC().Format("20060102"), suffix))
	return store.VendorKey{
		KeyID:            string(id),
		PublicKey:        license.FormatPublicKey(id, pub),
		PrivateKeySealed: key.seal(priv.Seed(), "vendor-key:"+string(id)),
		CreatedAt:        now,
	}, nil
}

// RotateVendorKey makes a new signing key; the old ones keep verifying
// what they signed. It returns the new key's public form, for the masters.
func (s *Server) RotateVendorKey(ctx context.Context, actor string) (store.VendorKey, error) {
	now := s.clk.Now()
	vk, err := newVendorKey(s.key, now)
	if err != nil {
		return store.VendorKey{}, err
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.AddVendorKey(ctx, vk); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "vendor_key.rotate", Target: vk.KeyID, Remote: "local"})
	})
	return vk, err
}

// signer returns the signing key's private half.
func (s *Server) signer(vk store.VendorKey) (ed25519.PrivateKey, error) {
	seed, err := s.key.open(vk.PrivateKeySealed, "vendor-key:"+vk.KeyID)
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: vendor key %s: bad seed", ErrDataKey, vk.KeyID)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// VendorKeys lists every vendor key, oldest first.
func (s *Server) VendorKeys(ctx context.Context) ([]store.VendorKey, error) {
	var keys []store.VendorKey
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		keys, err = tx.VendorKeys(ctx)
		return err
	})
	return keys, err
}
