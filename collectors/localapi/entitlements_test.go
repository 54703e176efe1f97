package localapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/licensing/entitlement"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	code, e := do(t, unix, "GET", base+"/v1/entitlements", "")
	require.Equal(t, 200, code, "entitlements: %v", e)
	require.Equal(t, float64(9), e["serial"], "entitlements: %v", e)
	require.Len(t, e["entitlements"], 1, "entitlements: %v", e)
	code, c := do(t, unix, "GET", base+"/v1/features/approvals?product=ts", "")
	require.Equal(t, 200, code, "feature on: %v", c)
	require.Equal(t, true, c["enabled"], "feature on: %v", c)
	require.Equal(t, "lic-1", c["license_id"], "feature on: %v", c)
	code, c = do(t, unix, "GET", base+"/v1/features/reports", "")
	require.Equal(t, 200, code, "feature off: %v", c)
	require.Equal(t, false, c["enabled"], "feature off: %v", c)
	require.NotEqual(t, "", c["reason"], "feature off: %v", c)
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
		assert.Equal(t, tc.code, code, "consume %s: %v", tc.body, r)
		if tc.want != "" {
			assert.Equal(t, tc.want, r["code"], "consume %s: %v", tc.body, r)
		}
		if tc.code == 200 {
			assert.Equal(t, float64(7), r["remaining"], "consume %s: %v", tc.body, r)
		}
	}
	svc.noEnts = true
	for _, path := range []string{"/v1/entitlements", "/v1/features/approvals"} {
		code, e := do(t, unix, "GET", base+path, "")
		assert.Equal(t, 503, code, "%s without a document: %v", path, e)
		assert.Equal(t, "no_entitlements", e["code"], "%s without a document: %v", path, e)
	}
}
