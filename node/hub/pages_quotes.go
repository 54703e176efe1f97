package hub

import (
	"net/http"
	"strings"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// The Requests page: sites' purchase requests (quotes.go), the open ones
// first, each with a form to answer it.

type quotesView struct {
	Open, Answered []*licmeshv1.HubQuoteRequest
	CanAnswer      bool
}

func (pg *pages) quotesPage(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListQuoteRequests(ctx, req(&licmeshv1.ListQuoteRequestsRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	v := quotesView{CanAnswer: p.may(actAdmin) || p.may(actManageLicense)}
	for _, q := range res.Msg.GetRequests() {
		if q.GetAnswer() == "" {
			v.Open = append(v.Open, q)
		} else {
			v.Answered = append(v.Answered, q)
		}
	}
	d := pg.data(w, r, p, "quotes", "Purchase requests")
	d.Data = v
	pg.render(w, "quotes", http.StatusOK, d)
}

func (pg *pages) answerQuote(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	id := r.PathValue("id")
	if _, err := pg.api.AnswerQuoteRequest(ctx, req(&licmeshv1.AnswerQuoteRequestRequest{Id: id, Answer: strings.TrimSpace(r.PostFormValue("answer"))})); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/quotes", "Request "+id+" was answered: the site sees the answer with its next license check.")
}
