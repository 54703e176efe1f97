package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// ComplianceFunc reconciles the site (inventory against licenses), now or,
// given a month ("2026-11"), by that month's use.
type ComplianceFunc func(ctx context.Context, month string) (*licmeshv1.GetReconciliationResponse, error)

type complianceView struct {
	// Month is the report's month, empty for now.
	Month      string
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

func loadCompliance(ctx context.Context, h *Handler, req *http.Request) (string, any, int, error) {
	month := strings.TrimSpace(req.URL.Query().Get("month"))
	if month != "" {
		if _, err := time.Parse("2006-01", month); err != nil {
			return "Compliance", complianceView{}, http.StatusBadRequest, fmt.Errorf("month %q is not like 2026-11", month)
		}
	}
	r, err := h.cfg.Compliance(ctx, month)
	if err != nil {
		return "Compliance", complianceView{}, http.StatusServiceUnavailable, err
	}
	v := complianceView{Month: month, Compliant: r.GetCompliant(), Judged: h.timeAt(r.GetJudgedAtMs()), Products: r.GetProducts(), Mismatches: r.GetMismatches()}
	for _, x := range r.GetInventory() {
		v.Inventory = append(v.Inventory, inventoryRow{ID: x.GetCollectorId(), Host: x.GetHostname(), Version: x.GetVersion(),
			Licenses: strings.Join(x.GetLicenses(), ", "), Status: x.GetStatus(), Seen: h.timeAt(x.GetLastSeenMs()), Leases: x.GetLeases()})
	}
	return "Compliance", v, http.StatusOK, nil
}
