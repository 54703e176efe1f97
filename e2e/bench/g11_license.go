package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// vendor is a vendor signing key made with `meshctl vendor keygen`, for
// measurements that put licenses in force the way a site does: signed by
// the vendor, added through the admin API.
type vendor struct {
	dir   string // holds the key and the licenses signed with it
	key   string // the private key file
	trust string // the key-id:base64 line masters trust it by (--vendor-keys)
}

// newVendor makes a vendor key under a new directory in dir (empty for the
// OS temp dir). Close removes it.
func newVendor(dir string) (*vendor, error) {
	d, err := os.MkdirTemp(dir, "licmesh-vendor-")
	if err != nil {
		return nil, err
	}
	const keyID = "bench-vendor"
	out, err := meshctl("vendor", "keygen", "--out", d, "--key-id", keyID)
	if err != nil {
		_ = os.RemoveAll(d)
		return nil, err
	}
	return &vendor{dir: d, key: filepath.Join(d, keyID+".key"), trust: strings.TrimSpace(out)}, nil
}

// Close removes the key and the licenses.
func (v *vendor) Close() { _ = os.RemoveAll(v.dir) }

// license returns the armoured text of a one-year subscription for cluster,
// as the vendor would send it: one feature, and one pool of seats, both
// named after id so that every license changes what collectors are
// entitled to.
func (v *vendor) license(id, cluster string) (string, error) {
	now := time.Now().UTC().Truncate(time.Second)
	payload := map[string]any{
		"format":       1,
		"license_id":   id,
		"customer":     map[string]any{"id": "bench-customer", "name": "Bench Inc"},
		"product":      map[string]any{"sku": "bench-suite", "name": "Bench Suite", "application": "bench", "version": "1.0.0"},
		"type":         "subscription",
		"subscription": map[string]any{"renewal_period_count": 1, "renewal_period_unit": "year", "auto_renew": true},
		"issued_at":    now.Add(-time.Hour),
		"not_before":   now.Add(-time.Hour),
		"expires_at":   now.Add(365 * 24 * time.Hour),
		"grace":        "7d",
		"cluster_id":   cluster,
		"quantity":     1,
		"features":     []map[string]any{{"name": id + "-feature", "type": "checkbox", "scope": "instance", "enabled": true}},
		"license_template": []map[string]any{
			{"name": id + "-seats", "users": 10, "users_calculation": "fixed"},
		},
		"subscription_id": "sub-" + id,
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	in, out := filepath.Join(v.dir, id+".json"), filepath.Join(v.dir, id+".lic")
	if err := os.WriteFile(in, b, 0o600); err != nil {
		return "", err
	}
	if _, err := meshctl("vendor", "sign", "--key", v.key, "--out", out, in); err != nil {
		return "", err
	}
	text, err := os.ReadFile(out)
	return string(text), err
}

// meshctl runs the project's meshctl and returns its standard output.
func meshctl(args ...string) (string, error) {
	bin, err := harness.Binaries()
	if err != nil {
		return "", err
	}
	out, errOut, code := harness.RunCmd(filepath.Join(bin, "meshctl"), args, nil)
	if code != 0 {
		return "", fmt.Errorf("%w: meshctl %s: exit %d: %s", ErrMesh, args[0]+" "+args[1], code, strings.TrimSpace(errOut))
	}
	return out, nil
}

// AddLicense puts an armoured license in force through master i.
func (m *MeshCluster) AddLicense(ctx context.Context, i int, text string) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	if _, err := m.admin[i].AddLicense(ctx, connect.NewRequest(&licmeshv1.AddLicenseRequest{Text: text})); err != nil {
		return fmt.Errorf("%w: add license through %s: %w", ErrMesh, m.c.Masters[i].ID, err)
	}
	return nil
}

// CreateJoinToken makes a collector join token good for uses enrollments
// within ttl.
func (m *MeshCluster) CreateJoinToken(ctx context.Context, uses int, ttl time.Duration) (JoinToken, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	r, err := m.admin[0].CreateToken(ctx, connect.NewRequest(&licmeshv1.CreateTokenRequest{
		Role: "collector", TtlSeconds: int64(ttl / time.Second), MaxUses: uint32(uses),
	}))
	if err != nil {
		return JoinToken{}, fmt.Errorf("%w: create join token: %w", ErrMesh, err)
	}
	return ParseJoinToken(r.Msg.SecretToken)
}

// MasterPID returns the process ID of master i.
func (m *MeshCluster) MasterPID(i int) int { return m.c.Masters[i].Proc.Pid() }

// MasterID returns master i's node ID.
func (m *MeshCluster) MasterID(i int) string { return m.c.Masters[i].ID }
