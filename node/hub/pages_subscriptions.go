package hub

import (
	"net/http"
	"strconv"
	"time"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// subscriptionRow is one subscription on the company page and the portal.
type subscriptionRow struct {
	*licmeshv1.Subscription
	// Class is how the row is drawn, as a license's: current, soon,
	// expired or old (revoked or ended).
	Class    string
	DaysLeft int64
}

// Product is the product's name, or its SKU if the name is empty.
func (s subscriptionRow) Product() string {
	if n := s.GetProductName(); n != "" {
		return n
	}
	return s.GetSku()
}

// StartedDay, ExpiresDay and ConvertedDay are the dates the lists show.
func (s subscriptionRow) StartedDay() string   { return fmtDate(fromMS(s.GetStartedAtMs())) }
func (s subscriptionRow) ExpiresDay() string   { return fmtDate(fromMS(s.GetExpiresAtMs())) }
func (s subscriptionRow) ConvertedDay() string { return fmtDate(fromMS(s.GetConvertedAtMs())) }

// Left is the days-left column, as a license's.
func (s subscriptionRow) Left() string {
	switch {
	case s.GetExpiresAtMs() == 0:
		return "never"
	case s.GetStatus() == "expired":
		return "expired"
	case s.GetStatus() != "current":
		return ""
	}
	return strconv.FormatInt(s.DaysLeft, 10)
}

// Origin says how it began: a trial (and when it was converted), or paid.
func (s subscriptionRow) Origin() string {
	switch {
	case !s.GetBeganAsTrial():
		return "paid"
	case s.GetConvertedAtMs() == 0:
		return "trial"
	}
	return "trial, converted " + s.ConvertedDay()
}

// subscriptionsShown is how many subscriptions the company page and the
// portal show before "show all": a company with a thousand would
// otherwise push its licenses a thousand rows down, and drawing them was
// most of the portal's time.
const subscriptionsShown = 50

// subscriptionList is the subscriptions box: the rows shown, and where to
// see all of them when some are left out.
type subscriptionList struct {
	Rows []subscriptionRow
	// AllURL shows every one; empty when they all are.
	AllURL string
}

// subscriptionBox lists a company's subscriptions for the box on page
// base: the first subscriptionsShown in the order they started (one more
// is read, to know whether there are more), or all of them with
// ?subscriptions=all.
func (pg *pages) subscriptionBox(r *http.Request, company, base string, now time.Time) (subscriptionList, error) {
	limit := subscriptionsShown + 1
	if r.URL.Query().Get("subscriptions") == "all" {
		limit = maxListed
	}
	rows, err := pg.subscriptionRows(r, company, now, limit)
	if err != nil {
		return subscriptionList{}, err
	}
	l := subscriptionList{Rows: rows}
	if limit == subscriptionsShown+1 && len(rows) > subscriptionsShown {
		l.Rows = rows[:subscriptionsShown]
		l.AllURL = base + "?subscriptions=all"
	}
	return l, nil
}

// subscriptionRows lists a company's subscriptions through the API's
// ListSubscriptions, which decides whether the caller may see them.
func (pg *pages) subscriptionRows(r *http.Request, company string, now time.Time, limit int) ([]subscriptionRow, error) {
	ctx, cancel := callCtx(r)
	defer cancel()
	var out []subscriptionRow
	after := ""
	for len(out) < limit {
		page := min(limit-len(out), 1000)
		res, err := pg.api.ListSubscriptions(ctx, req(&licmeshv1.ListSubscriptionsRequest{CompanyId: company, Limit: int64(page), After: after}))
		if err != nil {
			return nil, err
		}
		subs := res.Msg.GetSubscriptions()
		for _, s := range subs {
			row := subscriptionRow{Subscription: s, DaysLeft: daysLeft(fromMS(s.GetExpiresAtMs()), now)}
			switch {
			case s.GetStatus() == "current" && s.GetExpiresAtMs() != 0 && row.DaysLeft <= soonDays:
				row.Class = "soon"
			case s.GetStatus() == "current", s.GetStatus() == "expired":
				row.Class = s.GetStatus()
			default:
				row.Class = "old"
			}
			out = append(out, row)
		}
		if len(subs) < page {
			break
		}
		after = subs[len(subs)-1].GetId()
	}
	return out, nil
}
