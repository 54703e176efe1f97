package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The public trial sign-up form: seed 001's trial button for a person, as
// the SignUp call is for a program. The form posts to the same signUp as
// the call (the same checks, rate limits and mails) and answers the same
// way whether the address is new or already has an account: the mailbox
// shows the difference, not the page.

// signupPath is the sign-up form's page.
const signupPath = "/signup"

// signupStartCookie carries the sign-up form's nonce (formNonce).
const signupStartCookie = "lmhub_signup_start"

// signupFields are the form's inputs, named as signUp's refusals name
// them.
var signupFields = []string{"email", "company", "name", "sku"}

const (
	signupOffText         = "This hub does not take sign-ups. Ask the vendor for a trial, or sign in if you already have an account."
	signupUnavailableText = "Sign-up is not available right now; try again later."
)

// signupOpen reports whether the hub takes public sign-ups: a product to
// offer and a mail server to send the link, which signUp refuses without.
func (s *Server) signupOpen() bool { return len(s.cfg.signupSKUs()) > 0 && s.mail != nil }

// signupURL is the sign-up form's path if the hub takes sign-ups, else "".
func (s *Server) signupURL() string {
	if !s.signupOpen() {
		return ""
	}
	return signupPath
}

// signupOffer is a product the form offers.
type signupOffer struct {
	SKU, Name string
	// Trial is the trial's length ("14-day trial"), if the product says.
	Trial string
}

// signupFormView is what the sign-up page shows: the form, the answer to
// a sign-up, or why there is no form.
type signupFormView struct {
	Sent, Off bool
	Message   string
	// The form's values, as typed; Email is the normalized address once
	// sent.
	Email, Company, Name, SKU string
	Products                  []signupOffer
	Nonce, Action             string
	// Error is what was wrong with the post, and Field the input it names.
	Error, Field string
}

// signupOffers returns the products a sign-up may ask for that are
// published, the default first.
func (s *Server) signupOffers(ctx context.Context) ([]signupOffer, error) {
	var out []signupOffer
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		out = nil
		for _, sku := range s.cfg.signupSKUs() {
			prod, err := tx.Product(ctx, license.SKU(sku), 0)
			if errors.Is(err, store.ErrNotFound) {
				continue // signUp refuses it too, and logs that
			}
			if err != nil {
				return err
			}
			o := signupOffer{SKU: sku, Name: prod.Name}
			if prod.TrialCount > 0 && prod.TrialUnit != "" {
				o.Trial = fmt.Sprintf("%d-%s trial", prod.TrialCount, prod.TrialUnit)
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

func (p *publicPages) signupPage(w http.ResponseWriter, r *http.Request) {
	if !p.s.signupOpen() {
		p.signupOff(w, r, http.StatusNotFound, signupOffText)
		return
	}
	p.showSignup(w, r, http.StatusOK, signupFormView{})
}

// signupOff answers that there is no sign-up to be had.
func (p *publicPages) signupOff(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.render(w, r, "signup", status, "Sign-up is not available", nil, signupFormView{Off: true, Message: msg})
}

// showSignup draws the form with v's values and problem, the products on
// offer and a new nonce.
func (p *publicPages) showSignup(w http.ResponseWriter, r *http.Request, status int, v signupFormView) {
	offers, err := p.s.signupOffers(r.Context())
	if err != nil {
		p.internalError(w, "sign-up form", err)
		return
	}
	if len(offers) == 0 {
		p.s.log.Warn("hub: no sign-up product is published", "skus", strings.Join(p.s.cfg.signupSKUs(), ","))
		p.signupOff(w, r, http.StatusServiceUnavailable, signupUnavailableText)
		return
	}
	v.Products, v.Action = offers, signupPath
	if !slices.ContainsFunc(offers, func(o signupOffer) bool { return o.SKU == v.SKU }) {
		v.SKU = offers[0].SKU
	}
	v.Nonce = p.startNonce.issue(w)
	p.render(w, r, "signup", status, "Start a free trial", nil, v)
}

// signUp posts the form to signUp, as the SignUp call does.
func (p *publicPages) signUp(w http.ResponseWriter, r *http.Request) {
	if !p.s.signupOpen() {
		p.signupOff(w, r, http.StatusForbidden, signupOffText)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.showSignup(w, r, http.StatusBadRequest, signupFormView{Error: "The form could not be read (too large, or malformed); fill it in again."})
		return
	}
	f := r.PostForm
	v := signupFormView{Email: f.Get("email"), Company: f.Get("company"), Name: f.Get("name"), SKU: f.Get("sku")}
	if !p.startNonce.check(r) {
		v.Error = "This form expired or did not come from this hub: check it and send it again."
		p.showSignup(w, r, http.StatusForbidden, v)
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	email, err := p.s.signUp(ctx, p.api, signupRequest{Email: v.Email, Company: v.Company, Name: v.Name, SKU: v.SKU}, remoteHost(r))
	switch {
	case err == nil:
		p.startNonce.clear(w)
		p.render(w, r, "signup", http.StatusOK, "Check your mailbox", nil, signupFormView{Sent: true, Email: email})
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, store.ErrInvalid):
		v.Error = message(err)
		v.Field = signupField(v.Error)
		p.showSignup(w, r, http.StatusBadRequest, v)
	case errors.Is(err, ErrSignupRate):
		v.Error = message(err)
		p.showSignup(w, r, http.StatusTooManyRequests, v)
	case errors.Is(err, ErrSignupOff), errors.Is(err, ErrMailOff):
		p.signupOff(w, r, http.StatusServiceUnavailable, signupUnavailableText)
	default:
		p.s.log.Error("hub: sign-up form failed", "err", err)
		v.Error = "The hub could not sign you up (the error is logged); try again later."
		p.showSignup(w, r, http.StatusInternalServerError, v)
	}
}

// signupField is the input a refusal of signUp is about: its messages
// start with the field's name ("company: …", `email "x": …`), which is
// the input's name.
func signupField(msg string) string {
	name, _, _ := strings.Cut(msg, " ")
	name = strings.TrimSuffix(name, ":")
	if slices.Contains(signupFields, name) {
		return name
	}
	return ""
}
