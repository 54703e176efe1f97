package localapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/licensing/entitlement"
)

var entDoc = &entitlement.Document{
	Format: 1, ClusterID: "c", CollectorID: "col-1", Serial: 9, IssuedAt: time.Now(),
	Entitlements: []entitlement.Entitlement{{
		License: "lic-1", Product: entitlement.Product{SKU: "ts"}, NotBefore: time.Now().Add(-time.Hour),
		ExpiresAt: time.Now().Add(time.Hour), GraceEnd: time.Now().Add(2 * time.Hour), Covered: true,
		Features: []string{"approvals"},
	}},
}

func (s *stub) Entitlements() (agent.Entitlements, error) {
	if s.noEnts {
		return agent.Entitlements{}, agent.ErrNoEntitlements
	}
	e := entDoc.Entitlements[0]
	return agent.Entitlements{Serial: 9, Source: "master", Entitlements: []agent.EntitlementStatus{{Entitlement: e, Phase: entitlement.Active, InForce: true}}}, nil
}

func (s *stub) CheckFeature(feature, sku string) (entitlement.Check, error) {
	if s.noEnts {
		return entitlement.Check{}, agent.ErrNoEntitlements
	}
	return entDoc.Feature(feature, sku, time.Now()), nil
}

func (s *stub) ConsumeCredits(_ context.Context, unit string, amount int64) (agent.CreditResult, error) {
	switch unit {
	case "case":
		if amount > 10 {
			return agent.CreditResult{}, &agent.RejectedError{Master: "m1", Code: connect.CodeResourceExhausted, Message: "10 left"}
		}
		return agent.CreditResult{License: "lic-1", Unit: unit, Amount: amount, Remaining: 10 - amount}, nil
	case "down":
		return agent.CreditResult{}, fmt.Errorf("%w: all down", agent.ErrUnavailable)
	}
	return agent.CreditResult{}, &agent.RejectedError{Master: "m1", Code: connect.CodeNotFound, Message: "no such unit"}
}

func TestEntitlementRoutes(t *testing.T) {
	svc := newStub()
	_, unix, _ := serve(t, svc)
	base := "http://collectord"
	if code, e := do(t, unix, "GET", base+"/v1/entitlements", ""); code != 200 || e["serial"].(float64) != 9 || len(e["entitlements"].([]any)) != 1 {
		t.Fatalf("entitlements: %d %v", code, e)
	}
	if code, c := do(t, unix, "GET", base+"/v1/features/approvals?product=ts", ""); code != 200 || c["enabled"] != true || c["license_id"] != "lic-1" {
		t.Fatalf("feature on: %d %v", code, c)
	}
	if code, c := do(t, unix, "GET", base+"/v1/features/reports", ""); code != 200 || c["enabled"] != false || c["reason"] == "" {
		t.Fatalf("feature off: %d %v", code, c)
	}
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{`{"unit":"case","amount":3}`, 200, ""},
		{`{"unit":"case","amount":11}`, 409, "credits_exhausted"},
		{`{"unit":"bogus","amount":1}`, 404, "unknown_credit_unit"},
		{`{"unit":"down","amount":1}`, 503, "unavailable"},
		{`{"unit":"case","amount":0}`, 400, "invalid_input"},
		{`{"unit":"","amount":1}`, 400, "invalid_input"},
		{`{"unit":"case","amount":1,"extra":1}`, 400, "invalid_input"},
	} {
		code, r := do(t, unix, "POST", base+"/v1/credits/consume", tc.body)
		if code != tc.code || (tc.want != "" && r["code"] != tc.want) || (tc.code == 200 && r["remaining"].(float64) != 7) {
			t.Errorf("consume %s: %d %v, want %d %s", tc.body, code, r, tc.code, tc.want)
		}
	}
	svc.noEnts = true
	for _, path := range []string{"/v1/entitlements", "/v1/features/approvals"} {
		if code, e := do(t, unix, "GET", base+path, ""); code != 503 || e["code"] != "no_entitlements" {
			t.Errorf("%s without a document: %d %v", path, code, e)
		}
	}
}
