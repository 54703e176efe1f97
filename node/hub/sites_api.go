package hub

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/usage"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// silentAfter is how long without a report makes an installation silent
// in the sales monitor.
const silentAfter = 7 * 24 * time.Hour

// siteScope is what p may see of sites: its company (a customer), its
// customers (a reseller), or everything (staff who read). want narrows it
// to one company, which p must be allowed to see.
func siteScope(ctx context.Context, tx *store.Tx, p *principal, want string) (store.CompanyID, store.ResellerID, error) {
	switch {
	case want != "":
		c, err := companyFor(ctx, tx, p, store.CompanyID(want))
		if err != nil {
			return "", "", err
		}
		return c.ID, "", nil
	case p.Role == store.RoleCustomer:
		return p.Company, "", nil
	case p.Role == store.RoleReseller:
		return "", p.Reseller, nil
	}
	return "", "", nil
}

func siteToWire(s store.Site, companyName string) *licmeshv1.Site {
	return &licmeshv1.Site{ClusterId: string(s.ClusterID), CompanyId: string(s.Company), CompanyName: companyName,
		Products: s.Products, MasterVersions: s.MasterVersions, CollectorVersions: s.CollectorVersions,
		RegisteredAtMs: ms(s.RegisteredAt), LastContactMs: ms(s.LastContactAt), Arrival: s.Arrival(), LastSeq: s.ChainSeq,
		LastOnlineMs: ms(s.LastOnlineAt), LastFileMs: ms(s.LastFileAt), PublicKey: string(s.PublicKey),
		Batches: uint32(min(s.Backlog, 1<<31))}
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (a *api) ListSites(ctx context.Context, req *connect.Request[licmeshv1.ListSitesRequest]) (*connect.Response[licmeshv1.ListSitesResponse], error) {
	p, _, err := who(ctx, actRead, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	var out licmeshv1.ListSitesResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		company, reseller, err := siteScope(ctx, tx, p, req.Msg.GetCompanyId())
		if err != nil {
			return err
		}
		sites, err := tx.ListSites(ctx, company, reseller)
		if err != nil {
			return err
		}
		names := map[store.CompanyID]string{}
		for _, s := range sites {
			if _, ok := names[s.Company]; !ok {
				c, err := tx.Company(ctx, s.Company)
				if err != nil {
					return err
				}
				names[s.Company] = c.Name
			}
			out.Sites = append(out.Sites, siteToWire(s, names[s.Company]))
		}
		return nil
	})
	if err != nil {
		return nil, a.fail("ListSites", err)
	}
	return res(&out), nil
}

// installationRows returns the sales monitor's rows p may see.
func (a *api) installationRows(ctx context.Context, p *principal, company string) ([]store.InstallationRow, error) {
	var rows []store.InstallationRow
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		c, r, err := siteScope(ctx, tx, p, company)
		if err != nil {
			return err
		}
		rows, err = tx.ListInstallations(ctx, store.InstallationFilter{Company: c, Reseller: r})
		return err
	})
	return rows, err
}

func installationToWire(r store.InstallationRow, now time.Time) *licmeshv1.InstallationRow {
	return &licmeshv1.InstallationRow{ClusterId: string(r.ClusterID), Installation: string(r.Installation), CompanyId: string(r.Company),
		CompanyName: r.CompanyName, Products: strings.Join(r.Products, ", "), Month: r.Month, Users: r.Users, Cases: r.Cases,
		UsersMax: r.UsersMax, CasesMax: r.CasesMax, LastReportMs: ms(r.LastReportAt), Arrival: r.Arrival(),
		OverLimit: r.OverLimit, Silent: now.Sub(r.LastReportAt) > silentAfter}
}

func (a *api) ListInstallations(ctx context.Context, req *connect.Request[licmeshv1.ListInstallationsRequest]) (*connect.Response[licmeshv1.ListInstallationsResponse], error) {
	p, _, err := who(ctx, actRead, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	rows, err := a.installationRows(ctx, p, req.Msg.GetCompanyId())
	if err != nil {
		return nil, a.fail("ListInstallations", err)
	}
	now := a.s.clk.Now()
	out := &licmeshv1.ListInstallationsResponse{Installations: make([]*licmeshv1.InstallationRow, 0, len(rows))}
	for _, r := range rows {
		out.Installations = append(out.Installations, installationToWire(r, now))
	}
	return res(out), nil
}

// installationHistory returns one installation's months and days, if p
// may see its site.
func (a *api) installationHistory(ctx context.Context, p *principal, cluster license.ClusterID, inst usage.InstallationID) ([]store.UsageMonth, []usage.DayStats, error) {
	var months []store.UsageMonth
	var days []usage.DayStats
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		site, err := tx.Site(ctx, cluster)
		if err != nil {
			return err
		}
		if _, err := companyFor(ctx, tx, p, site.Company); err != nil {
			return err
		}
		if months, err = tx.ListMonths(ctx, store.MonthFilter{Cluster: cluster, Installation: inst}); err != nil {
			return err
		}
		days, err = tx.ListDays(ctx, cluster, inst)
		return err
	})
	return months, days, err
}

func (a *api) InstallationHistory(ctx context.Context, req *connect.Request[licmeshv1.InstallationHistoryRequest]) (*connect.Response[licmeshv1.InstallationHistoryResponse], error) {
	p, _, err := who(ctx, actRead, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	months, days, err := a.installationHistory(ctx, p, license.ClusterID(req.Msg.GetClusterId()), usage.InstallationID(req.Msg.GetInstallation()))
	if err != nil {
		return nil, a.fail("InstallationHistory", err)
	}
	var out licmeshv1.InstallationHistoryResponse
	for _, m := range months {
		row := &licmeshv1.UsageMonthRow{Month: m.Month.String(), Closed: m.Closed, ClosedAtMs: ms(m.ClosedAt), MetricsJson: jsonString(m.Metrics),
			ReceivedAtMs: ms(m.ReceivedAt)}
		if m.Late != nil {
			row.LateJson = jsonString(m.Late)
		}
		out.Months = append(out.Months, row)
	}
	for _, d := range days {
		out.DaysJson = append(out.DaysJson, jsonString(d))
	}
	return res(&out), nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v) // plain structs
	return string(b)
}
