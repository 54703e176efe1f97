package dashboard

import (
	"context"
	"net/http"
	"strings"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// ComplianceFunc reconciles the site (inventory against licenses).
type ComplianceFunc func(ctx context.Context) (*licmeshv1.GetReconciliationResponse, error)

type complianceView struct {
	Compliant  bool
	Judged     timeView
	Products   []*licmeshv1.ProductCompliance
	Mismatches []*licmeshv1.Mismatch
	Inventory  []inventoryRow
}

type inventoryRow struct {
	ID, Host, Version, Licenses, Status string
	Seen                                timeView
	Leases                              uint32
}

func loadCompliance(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	r, err := h.cfg.Compliance(ctx)
	if err != nil {
		return "Compliance", complianceView{}, http.StatusServiceUnavailable, err
	}
	v := complianceView{Compliant: r.GetCompliant(), Judged: h.timeAt(r.GetJudgedAtMs()), Products: r.GetProducts(), Mismatches: r.GetMismatches()}
	for _, x := range r.GetInventory() {
		v.Inventory = append(v.Inventory, inventoryRow{ID: x.GetCollectorId(), Host: x.GetHostname(), Version: x.GetVersion(),
			Licenses: strings.Join(x.GetLicenses(), ", "), Status: x.GetStatus(), Seen: h.timeAt(x.GetLastSeenMs()), Leases: x.GetLeases()})
	}
	return "Compliance", v, http.StatusOK, nil
}
