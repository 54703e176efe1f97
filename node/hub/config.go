package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"path/filepath"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Config is the hub's configuration: DefaultConfig, then a strict YAML
// file, then LICMESH_HUB_* environment variables, then flags.
type Config struct {
	// DataDir holds the hub's keys (data.key, the TLS certificate) and,
	// with SQLite, its database. `hubd init` creates it.
	DataDir string `yaml:"data_dir"`
	// Listen is the HTTPS address of the API and pages (7500).
	Listen string `yaml:"listen"`
	// PublicURL is how people reach the hub, for links in mails; default
	// https://<listen>.
	PublicURL string `yaml:"public_url"`
	// TLSCertFile and TLSKeyFile are the hub's certificate and key (PEM);
	// both empty means a self-signed certificate made by `hubd init`.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// Database is "sqlite" (default, <data_dir>/hub.db) or "postgres".
	Database string `yaml:"database"`
	// PostgresDSN (or PostgresDSNFile, which keeps the password out of the
	// config) is the PostgreSQL connection string.
	PostgresDSN     string `yaml:"postgres_dsn"`
	PostgresDSNFile string `yaml:"postgres_dsn_file"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SigninRetention is how long sign-in records are kept (GDPR).
	SigninRetention time.Duration `yaml:"signin_retention"`

	// SMTPHost and SMTPPort are the mail server the hub sends its mails
	// through (sign-ups, trials); no host, no mail. Port 0 is the usual
	// one of SMTPTLS: 25, 587 (starttls) or 465 (tls).
	SMTPHost string `yaml:"smtp_host"`
	SMTPPort int    `yaml:"smtp_port"`
	// SMTPUsername and SMTPPasswordFile authenticate to the mail server:
	// the password is read from the file, never written in the config.
	SMTPUsername     string `yaml:"smtp_username"`
	SMTPPasswordFile string `yaml:"smtp_password_file"`
	// SMTPTLS is none, starttls (default: refused if the server does not
	// offer it) or tls (TLS from the first byte).
	SMTPTLS string `yaml:"smtp_tls"`
	// MailFrom is the From of the hub's mails, e.g. "Acme <noreply@acme.example>".
	MailFrom string `yaml:"mail_from"`
	// AlertEmails is the vendor's internal list that hears of its alerts
	// (renewals due, trials ending, installations at their limits or
	// silent); empty sends none. AlertInterval is how often the rules run;
	// AlertSilentAfter how long an installation that syncs online may stay
	// silent.
	AlertEmails []string `yaml:"alert_emails"`
	// AlertWebhookURL, when set, also receives each vendor alert as signed
	// JSON (mesh/webhook: HMAC-SHA256 with the secret in
	// AlertWebhookSecretFile); https only unless AlertWebhookHTTP.
	AlertWebhookURL        string        `yaml:"alert_webhook_url"`
	AlertWebhookSecretFile string        `yaml:"alert_webhook_secret_file"`
	AlertWebhookHTTP       bool          `yaml:"alert_webhook_http"`
	AlertInterval          time.Duration `yaml:"alert_interval"`
	AlertSilentAfter       time.Duration `yaml:"alert_silent_after"`
	// MailTemplatesDir holds mail templates that replace the built-in
	// ones file by file (names as in node/hub/mailtemplates); a file not
	// there is the built-in one. Empty: built-in only.
	MailTemplatesDir string `yaml:"mail_templates_dir"`
	// SignupProduct is the SKU whose trial a public sign-up starts; empty
	// turns public sign-up off. SignupProducts are further SKUs a sign-up
	// may ask for by name.
	SignupProduct  string   `yaml:"signup_product"`
	SignupProducts []string `yaml:"signup_products"`
	// SignupRate is how many sign-ups one remote address may make in an
	// hour.
	SignupRate int `yaml:"signup_rate"`
	// SignupLinkTTL is how long the link in a sign-up mail lets its
	// account set a first password.
	SignupLinkTTL time.Duration `yaml:"signup_link_ttl"`

	// ReleaseLists are the mailing lists a release announcement may go
	// to, by name. "global" (the default list) is every customer account
	// plus the addresses listed under it here.
	ReleaseLists map[string][]string `yaml:"release_lists"`
	// ReleaseRetention removes a release from the repository once it is
	// this old (and not the newest of its channel); 0 keeps every one.
	ReleaseRetention time.Duration `yaml:"release_retention"`
	// ReleaseRootKeys and ReleaseRootThreshold shape the release
	// repository's root role when the hub first makes it: how many root
	// keys, and how many must sign a new root.
	ReleaseRootKeys      int `yaml:"release_root_keys"`
	ReleaseRootThreshold int `yaml:"release_root_threshold"`

	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"`

	// Clock is the hub's time; nil means the system clock. Not from YAML.
	Clock clock.Clock `yaml:"-"`
	// Logger receives the hub's logs. Not from YAML.
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig is the hub on its default port with embedded SQLite.
func DefaultConfig() Config {
	return Config{
		DataDir:              "/var/lib/licmesh-hub",
		Listen:               "127.0.0.1:7500",
		Database:             string(store.SQLite),
		SessionTTL:           12 * time.Hour,
		SigninRetention:      90 * 24 * time.Hour,
		SMTPTLS:              "starttls",
		SignupRate:           5,
		SignupLinkTTL:        72 * time.Hour,
		AlertInterval:        10 * time.Minute,
		AlertSilentAfter:     72 * time.Hour,
		ReleaseRootKeys:      3,
		ReleaseRootThreshold: 2,
		LogLevel:             "info",
		LogFormat:            "text",
	}
}

// Validate reports every problem in c, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "is required")
	} else if !filepath.IsAbs(c.DataDir) {
		bad("data_dir", "%q must be an absolute path", c.DataDir)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert_file", "give both tls_cert_file and tls_key_file, or neither")
	}
	switch store.Engine(c.Database) {
	case store.SQLite:
		if c.PostgresDSN != "" || c.PostgresDSNFile != "" {
			bad("postgres_dsn", "is set but database is sqlite")
		}
	case store.Postgres:
		if (c.PostgresDSN == "") == (c.PostgresDSNFile == "") {
			bad("postgres_dsn", "give postgres_dsn or postgres_dsn_file (one of them)")
		}
	default:
		bad("database", "%q: sqlite or postgres", c.Database)
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		bad("session_ttl", "%v: between 1m and 720h", c.SessionTTL)
	}
	if c.SigninRetention < time.Hour {
		bad("signin_retention", "%v: at least 1h", c.SigninRetention)
	}
	c.validateMail(bad)
	if c.ReleaseRootKeys < 1 || c.ReleaseRootKeys > 16 {
		bad("release_root_keys", "%d: between 1 and 16", c.ReleaseRootKeys)
	} else if c.ReleaseRootThreshold < 1 || c.ReleaseRootThreshold > c.ReleaseRootKeys {
		bad("release_root_threshold", "%d: between 1 and release_root_keys (%d)", c.ReleaseRootThreshold, c.ReleaseRootKeys)
	}
	if c.ReleaseRetention < 0 || (c.ReleaseRetention > 0 && c.ReleaseRetention < 24*time.Hour) {
		bad("release_retention", "%v: 0 (keep every release) or at least 24h", c.ReleaseRetention)
	}
	for name, addrs := range c.ReleaseLists {
		if name == "" {
			bad("release_lists", "a list has no name")
		}
		for _, a := range addrs {
			if _, err := mail.ParseAddress(a); err != nil {
				bad("release_lists."+name, "%q is not an address", a)
			}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q: debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", "%q: text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

func (c *Config) clock() clock.Clock {
	if c.Clock == nil {
		return clock.System{}
	}
	return c.Clock
}
