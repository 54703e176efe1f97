package hub

import (
	"net/http"
	"strings"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// keysView is the API keys page: one's own keys, and a new key's secret
// in the answer to the post that made it, shown this once.
type keysView struct {
	Keys   []*licmeshv1.APIKey
	List   listView
	Name   string
	Secret string
	Q      string
}

var keyColumns = []column[*licmeshv1.APIKey]{
	{Key: "name", Label: "Name", Text: (*licmeshv1.APIKey).GetName},
	{Key: "id", Label: "Key ID", Text: (*licmeshv1.APIKey).GetId},
	{Key: "created", Label: "Created", Text: func(k *licmeshv1.APIKey) string { return msText(k.GetCreatedAtMs()) }, Num: (*licmeshv1.APIKey).GetCreatedAtMs},
	{Key: "used", Label: "Last used", Text: func(k *licmeshv1.APIKey) string { return msText(k.GetLastUsedAtMs()) }, Num: (*licmeshv1.APIKey).GetLastUsedAtMs},
	{Key: "revoked", Label: "Revoked", Text: func(k *licmeshv1.APIKey) string { return msText(k.GetRevokedAtMs()) }, Num: (*licmeshv1.APIKey).GetRevokedAtMs},
}

func (pg *pages) keysPage(w http.ResponseWriter, r *http.Request, p *principal) {
	pg.showKeys(w, r, p, http.StatusOK, keysView{}, nil)
}

func (pg *pages) showKeys(w http.ResponseWriter, r *http.Request, p *principal, status int, v keysView, prob *problem) {
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.ListAPIKeys(ctx, req(&licmeshv1.ListAPIKeysRequest{}))
	if err != nil {
		pg.failed(w, r, p, err)
		return
	}
	keys, lv, isCSV := csvOrList(w, r, "api-keys", pg.s.clk.Now(), uiPrefix+"/keys", keyColumns, res.Msg.GetKeys(), "created", true)
	if isCSV {
		return
	}
	v.Keys, v.List, v.Q = keys, lv, r.URL.Query().Get("q")
	d := pg.data(w, r, p, "keys", "API keys")
	d.Problem, d.Data = prob, v
	pg.render(w, "keys", status, d)
}

func (pg *pages) createKey(w http.ResponseWriter, r *http.Request, p *principal) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" || len(name) > 100 {
		pg.showKeys(w, r, p, http.StatusBadRequest, keysView{Name: name},
			&problem{Form: "key", Field: "name", Message: "name: 1 to 100 characters, to tell this key from your others (e.g. \"ci\" or \"master prod\")."})
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	res, err := pg.api.CreateAPIKey(ctx, req(&licmeshv1.CreateAPIKeyRequest{Name: name}))
	if err != nil {
		if status, ok := inputProblem(err); ok {
			pg.showKeys(w, r, p, status, keysView{Name: name}, &problem{Form: "key", Field: "name", Message: message(err)})
			return
		}
		pg.failed(w, r, p, err)
		return
	}
	pg.showKeys(w, r, p, http.StatusOK, keysView{Secret: res.Msg.GetSecret(), Name: name}, nil)
}

func (pg *pages) revokeKey(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx, cancel := callCtx(r)
	defer cancel()
	id := r.PathValue("id")
	if _, err := pg.api.RevokeAPIKey(ctx, req(&licmeshv1.RevokeAPIKeyRequest{Id: id})); err != nil {
		pg.failed(w, r, p, err)
		return
	}
	pg.done(w, r, uiPrefix+"/keys", "API key "+id+" was revoked: it no longer works.")
}
