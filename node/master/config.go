package master

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/mesh/mailer"
	"github.com/licmesh/licmesh/node/fsm"
)

// Config is one master's configuration. Load it with LoadConfig (strict YAML,
// then LICMESH_* environment), adjust it with flags, then Validate it.
type Config struct {
	// NodeID names this master in the cluster; it must be unique and stable.
	NodeID string `yaml:"node_id"`
	// DataDir holds the Raft log, snapshots and this master's certificates.
	DataDir string `yaml:"data_dir"`
	// ClusterSecret is the base64 of 32 random bytes shared by every master
	// (`meshd keygen`). It encrypts gossip and seeds the cluster CA, so a
	// master without it can neither discover nor join the cluster.
	ClusterSecret string `yaml:"cluster_secret"`
	// BootstrapExpect is 1, 3 or 5 for the masters of a new cluster, and 0
	// for a master that joins an existing one.
	BootstrapExpect int `yaml:"bootstrap_expect"`
	// Join lists gossip addresses (host:port) of any existing members.
	Join []string `yaml:"join"`
	// AdvertiseHost is the address other masters and collectors reach this
	// one at; it defaults to the host of the bind addresses.
	AdvertiseHost string `yaml:"advertise_host"`

	APIAddr       string `yaml:"api_addr"`       // HTTPS: admin API, dashboard, peer calls (7400)
	RaftAddr      string `yaml:"raft_addr"`      // Raft over TCP with mTLS (7401)
	GossipAddr    string `yaml:"gossip_addr"`    // memberlist (7402, UDP and TCP)
	CollectorAddr string `yaml:"collector_addr"` // collector protocol, QUIC and TLS/TCP (7443)

	// LeaseTTL is how long a granted or renewed lease lasts.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// EntitlementRefresh is how often a collector's entitlement document
	// is re-sent unchanged, which keeps its idea of trusted time fresh.
	// Changes are sent at once whatever this says.
	EntitlementRefresh time.Duration `yaml:"entitlement_refresh"`
	// UpstreamSyncInterval is how often the leader sends usage to the hub
	// once the cluster is activated (after a failure it retries sooner,
	// with backoff).
	UpstreamSyncInterval time.Duration `yaml:"upstream_sync_interval"`
	// LicenseCheckInterval is how often the leader asks the hub for the
	// cluster's licenses: renewals, packs, revocations.
	LicenseCheckInterval time.Duration `yaml:"license_check_interval"`
	// AlertInterval is how often the leader evaluates the alert rules.
	AlertInterval time.Duration `yaml:"alert_interval"`
	// ReleaseRootFile is the vendor's release repository root (root.json,
	// from "meshctl hub release root"): the trust anchor of updates. Empty:
	// the cluster takes the root its hub serves at the first check, over
	// the hub connection pinned at activation.
	ReleaseRootFile string `yaml:"release_root_file"`
	// UpdateRestart is how a master restarts on a new release: exec
	// (re-execute itself) or exit (status 75, for its supervisor).
	UpdateRestart string `yaml:"update_restart"`
	// UpdateTrialTimeout is how long a master restarted on a new release
	// has to catch up with the cluster before it goes back to the old one.
	UpdateTrialTimeout time.Duration `yaml:"update_trial_timeout"`
	// RolloutTick is how often the leader moves a rollout along.
	RolloutTick time.Duration `yaml:"rollout_tick"`
	// AuditRetention is how long the audit log keeps a record (at most
	// fsm.MaxAuditRecords are kept, whatever it says).
	AuditRetention time.Duration `yaml:"audit_retention"`
	// CollectorCertTTL is the lifetime of a collector's client certificate.
	CollectorCertTTL time.Duration `yaml:"collector_cert_ttl"`
	// LeaveOnTerminate makes SIGTERM leave the cluster gracefully (the
	// leader removes this master from the voters) instead of just stopping.
	LeaveOnTerminate bool `yaml:"leave_on_terminate"`
	// VendorKeys are the vendor public keys licenses are checked against,
	// as "key-id:base64" (several, for key rotation).
	VendorKeys []string `yaml:"vendor_keys"`
	// DisableQUIC serves the collector protocol on TLS/TCP only.
	DisableQUIC bool `yaml:"disable_quic"`
	// SMTPHost, SMTPPort, SMTPTLS, SMTPUsername and SMTPPasswordFile are
	// the mail server the leader sends alert e-mail through (none: e-mail
	// channels are refused); MailFrom is their sender.
	SMTPHost         string `yaml:"smtp_host"`
	SMTPPort         int    `yaml:"smtp_port"`
	SMTPTLS          string `yaml:"smtp_tls"`
	SMTPUsername     string `yaml:"smtp_username"`
	SMTPPasswordFile string `yaml:"smtp_password_file"`
	MailFrom         string `yaml:"mail_from"`
	// AlertWebhookHTTP lets webhook channels use plain http:// URLs (a
	// receiver on the site's own network); by default they must be https.
	AlertWebhookHTTP bool `yaml:"alert_webhook_http"`
	// TimeZone is the site's IANA time zone ("Europe/Paris"), which usage
	// months and days are cut in. The leader makes it the cluster's until
	// usage is first recorded; after that the recorded zone stays.
	TimeZone string `yaml:"time_zone"`

	// Raft timings; the defaults suit a LAN.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout  time.Duration `yaml:"election_timeout"`

	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"`

	// ClockOffset shifts this master's clock, for tests of clocks set back
	// or forward (the hidden --debug-clock-offset flag). Not from YAML.
	ClockOffset time.Duration `yaml:"-"`
	// ClockFile, when set, shifts this master's clock by the duration the
	// file holds, read again as it changes (clock.FileOffset): tests
	// fast-forward a running cluster with it.
	ClockFile string `yaml:"-"`
	// Clock is the master's time; nil means the system clock (shifted by
	// ClockOffset). Tests inject a fake. Not configurable from YAML.
	Clock clock.Clock `yaml:"-"`
	// Logger receives the master's logs. Not configurable from YAML.
	Logger *slog.Logger `yaml:"-"`
	// Stdout receives the one-time admin token banner at bootstrap.
	Stdout interface{ Write([]byte) (int, error) } `yaml:"-"`
}

// DefaultConfig returns a single-node configuration on the default ports.
func DefaultConfig() Config {
	return Config{
		DataDir:              "/var/lib/licmesh",
		BootstrapExpect:      1,
		APIAddr:              "127.0.0.1:7400",
		RaftAddr:             "127.0.0.1:7401",
		GossipAddr:           "127.0.0.1:7402",
		CollectorAddr:        "127.0.0.1:7443",
		LeaseTTL:             30 * time.Second,
		EntitlementRefresh:   time.Minute,
		UpstreamSyncInterval: time.Minute,
		LicenseCheckInterval: 24 * time.Hour,
		AlertInterval:        30 * time.Second,
		UpdateRestart:        "exec",
		UpdateTrialTimeout:   3 * time.Minute,
		RolloutTick:          time.Second,
		AuditRetention:       fsm.DefaultAuditRetention,
		SMTPTLS:              "starttls",
		CollectorCertTTL:     24 * time.Hour,
		LeaveOnTerminate:     true,
		HeartbeatTimeout:     time.Second,
		ElectionTimeout:      time.Second,
		LogLevel:             "info",
		LogFormat:            "text",
		TimeZone:             "UTC",
	}
}

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Validate reports every problem in c, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		bad("node_id", "%q must be 1-63 letters, digits, '.', '_' or '-'", c.NodeID)
	}
	if c.DataDir == "" {
		bad("data_dir", "is required")
	}
	if _, err := DecodeClusterSecret(c.ClusterSecret); err != nil {
		bad("cluster_secret", "%v", err)
	}
	switch c.BootstrapExpect {
	case 0, 1, 3, 5:
	default:
		bad("bootstrap_expect", "%d: must be 1, 3 or 5 (0 to join an existing cluster)", c.BootstrapExpect)
	}
	if c.BootstrapExpect == 0 && len(c.Join) == 0 {
		bad("join", "a master with bootstrap_expect 0 needs at least one address to join")
	}
	for i, a := range c.Join {
		if err := checkHostPort(a); err != nil {
			bad(fmt.Sprintf("join[%d]", i), "%q: %v", a, err)
		}
	}
	for _, f := range []struct{ name, addr string }{
		{"api_addr", c.APIAddr}, {"raft_addr", c.RaftAddr},
		{"gossip_addr", c.GossipAddr}, {"collector_addr", c.CollectorAddr},
	} {
		if err := checkHostPort(f.addr); err != nil {
			bad(f.name, "%q: %v", f.addr, err)
		}
	}
	if c.AdvertiseHost != "" && net.ParseIP(c.AdvertiseHost) == nil && !hostnamePattern.MatchString(c.AdvertiseHost) {
		bad("advertise_host", "%q is not an IP address or host name", c.AdvertiseHost)
	}
	if c.EntitlementRefresh < time.Second || c.EntitlementRefresh > 24*time.Hour {
		bad("entitlement_refresh", "%s: must be between 1s and 24h", c.EntitlementRefresh)
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL > 24*time.Hour {
		bad("lease_ttl", "%s: must be between 1s and 24h", c.LeaseTTL)
	}
	if c.UpstreamSyncInterval < time.Second || c.UpstreamSyncInterval > 24*time.Hour {
		bad("upstream_sync_interval", "%s: must be between 1s and 24h", c.UpstreamSyncInterval)
	}
	if c.LicenseCheckInterval < time.Second || c.LicenseCheckInterval > 30*24*time.Hour {
		bad("license_check_interval", "%s: must be between 1s and 720h", c.LicenseCheckInterval)
	}
	c.mailServer("").Validate("smtp_", "mail_from", c.SMTPPasswordFile != "", bad)
	if c.AuditRetention < 24*time.Hour || c.AuditRetention > 10*365*24*time.Hour {
		bad("audit_retention", "%s: must be between 24h and ten years (87600h)", c.AuditRetention)
	}
	if c.UpdateRestart != "exec" && c.UpdateRestart != "exit" {
		bad("update_restart", "%q: exec or exit", c.UpdateRestart)
	}
	if c.UpdateTrialTimeout < 10*time.Second || c.UpdateTrialTimeout > time.Hour {
		bad("update_trial_timeout", "%s: must be between 10s and 1h", c.UpdateTrialTimeout)
	}
	if c.RolloutTick < 50*time.Millisecond || c.RolloutTick > time.Minute {
		bad("rollout_tick", "%s: must be between 50ms and 1m", c.RolloutTick)
	}
	if c.AlertInterval < 100*time.Millisecond || c.AlertInterval > time.Hour {
		bad("alert_interval", "%s: must be between 100ms and 1h", c.AlertInterval)
	}
	if c.CollectorCertTTL < 10*time.Minute || c.CollectorCertTTL > 90*24*time.Hour {
		bad("collector_cert_ttl", "%s: must be between 10m and 2160h", c.CollectorCertTTL)
	}
	if c.HeartbeatTimeout < 50*time.Millisecond || c.ElectionTimeout < c.HeartbeatTimeout {
		bad("heartbeat_timeout", "%s / election_timeout %s: heartbeat must be at least 50ms and not above the election timeout", c.HeartbeatTimeout, c.ElectionTimeout)
	}
	if _, err := license.ParseKeyring(c.VendorKeys...); err != nil {
		bad("vendor_keys", "%v", err)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("log_level", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format", "%q: must be text or json", c.LogFormat)
	}
	if _, err := fsm.LoadZone(c.TimeZone); err != nil {
		bad("time_zone", "%v", err)
	}
	return errors.Join(errs...)
}

var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if host != "" && net.ParseIP(host) == nil && !hostnamePattern.MatchString(host) {
		return fmt.Errorf("bad host %q", host)
	}
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 0 || p > 65535 || fmt.Sprint(p) != port {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// DecodeClusterSecret parses the base64 cluster secret; it must hold exactly
// 32 bytes. The error never repeats the secret.
func DecodeClusterSecret(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("is required (make one with `meshd keygen`)")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("is not valid base64")
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("holds %d bytes, want 32", len(b))
	}
	return b, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return l, nil
}

// mailServer is the alert mail server as the mailer takes it, with the
// password when it is known.
func (c *Config) mailServer(password string) mailer.Config {
	return mailer.Config{Host: c.SMTPHost, Port: c.SMTPPort, TLS: c.SMTPTLS, Username: c.SMTPUsername, Password: password, From: c.MailFrom}
}
