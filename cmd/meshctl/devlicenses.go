package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// demoKeyID names the throwaway vendor key `meshctl dev` signs its demo
// licenses with; the masters of the dev cluster trust it and nothing else.
const demoKeyID = "dev-vendor"

// demoVendor makes the dev cluster's vendor key pair.
func demoVendor() (ed25519.PrivateKey, string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	return priv, license.FormatPublicKey(demoKeyID, pub), nil
}

// demoLicenses are the licenses `meshctl dev` puts in force, bound to the
// dev cluster: a subscription with modules (hard pools from a template), a
// trial (its trial template's pool), and a usage-credit license with a soft
// pool. Between them they grant the pools the simulated collectors use.
func demoLicenses(clusterID string, now time.Time) []map[string]any {
	now = now.UTC().Truncate(time.Second)
	base := func(id, sku, name, typ string) map[string]any {
		return map[string]any{
			"format": 1, "license_id": id, "customer": map[string]any{"id": "demo", "name": "Demo Customer"},
			"product": map[string]any{"sku": sku, "name": name, "application": sku, "version": "1.0.0"},
			"type":    typ, "issued_at": now.Add(-time.Hour), "not_before": now.Add(-time.Hour),
			"cluster_id": clusterID, "quantity": 10, "subscription_id": "sub-" + id,
		}
	}
	sub := base("demo-subscription", "designer-suite", "Designer Suite", "subscription")
	sub["subscription"] = map[string]any{"renewal_period_count": 1, "renewal_period_unit": "year", "auto_renew": true}
	sub["expires_at"] = now.AddDate(1, 0, 0)
	sub["grace"] = "14d"
	sub["billing"] = "annually"
	sub["features"] = []map[string]any{
		{"name": "designer_export", "type": "checkbox", "scope": "instance", "enabled": true},
		{"name": "designer_ai", "type": "checkbox", "scope": "instance", "enabled": false},
	}
	sub["license_template"] = []map[string]any{
		{"name": "designer", "users": 5, "users_calculation": "fixed"},
		{"name": "analyst", "users": 2, "users_calculation": "per qty"},
	}

	trial := base("demo-trial", "reports", "Reports", "trial")
	trial["trial"] = map[string]any{"period_count": 14, "period_unit": "day"}
	trial["expires_at"] = now.Add(-time.Hour).AddDate(0, 0, 14)
	trial["trial_template"] = []map[string]any{{"name": "reports", "users": 3}}

	usage := base("demo-usage", "viewer", "Viewer (on usage)", "subscription")
	usage["subscription"] = map[string]any{"renewal_period_count": 1, "renewal_period_unit": "month", "auto_renew": true}
	usage["expires_at"] = now.AddDate(0, 1, 0)
	usage["credits"] = map[string]any{"unit": "case", "balance": 5000, "low_alert_at": 500}
	usage["pools"] = []map[string]any{{"name": "viewer", "seats": 6, "enforce": "soft"}}
	return []map[string]any{sub, trial, usage}
}

// addDemoLicenses signs the demo licenses and puts them in force.
func addDemoLicenses(ctx context.Context, admin licmeshv1connect.AdminServiceClient, key ed25519.PrivateKey, clusterID string) error {
	for _, p := range demoLicenses(clusterID, time.Now()) {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		text, err := license.Seal(b, key, demoKeyID)
		if err != nil {
			return fmt.Errorf("dev: sign demo license %v: %w", p["license_id"], err)
		}
		_, err = admin.AddLicense(ctx, connect.NewRequest(&licmeshv1.AddLicenseRequest{Text: string(text)}))
		if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			return fmt.Errorf("dev: add demo license %v: %w", p["license_id"], err)
		}
	}
	return nil
}
