package sources

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/licmesh/licmesh/mesh/confload"
)

// maxRedirects bounds redirects; a product's own API needs few.
const maxRedirects = 3

// httpSource GETs a JSON document and picks values from it.
type httpSource struct {
	cfg     *HTTPConfig
	timeout time.Duration
	client  *http.Client
	rep     *reporter
	picks   picks
}

func newHTTP(cfg Config, rep *reporter) (*httpSource, error) {
	h := cfg.HTTP
	tr := &http.Transport{
		Proxy:                  nil, // the product is on this host: never through a proxy
		MaxIdleConns:           1,
		MaxIdleConnsPerHost:    1,
		MaxConnsPerHost:        1,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	if h.CAFile != "" {
		pem, err := confload.ReadFile(h.CAFile, maxSecretFile)
		if err != nil {
			return nil, rep.failf("http.ca_file", ErrConfig, "%s", fileProblem(h.CAFile, err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, rep.failf("http.ca_file", ErrConfig, "%s holds no PEM certificate", h.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if h.BearerTokenFile != "" {
		if _, err := readSecret("", h.BearerTokenFile, "", nil); err != nil {
			return nil, rep.failf("http.bearer_token_file", ErrConfig, "%v", err)
		}
	}
	p, err := newPicks(h.Scalars, h.Users, h.Logons)
	if err != nil {
		return nil, rep.fail("http", ErrConfig, err)
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			return nil
		},
	}
	return &httpSource{cfg: h, timeout: cfg.Timeout, client: client, rep: rep, picks: p}, nil
}

func (s *httpSource) close() error {
	s.client.CloseIdleConnections()
	return nil
}

func (s *httpSource) measure(ctx context.Context, req *request) error {
	u, _ := url.Parse(s.cfg.URL) // validated
	if s.cfg.SinceParam != "" {
		q := u.Query()
		q.Set(s.cfg.SinceParam, req.since.UTC().Format(time.RFC3339))
		u.RawQuery = q.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return s.rep.fail("http.url", ErrConfig, err)
	}
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", applicationName)
	for k, v := range s.cfg.Headers {
		hreq.Header.Set(k, v)
	}
	if s.cfg.BearerTokenFile != "" {
		tok, err := readSecret("", s.cfg.BearerTokenFile, "", nil)
		if err != nil {
			return s.rep.failf("http.bearer_token_file", ErrConfig, "%v", err)
		}
		s.rep.scrub.add(tok)
		hreq.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.client.Do(hreq)
	if err != nil {
		return s.netErr(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return s.rep.failf("http.url", ErrQuery, "GET answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		return s.netErr(ctx, err)
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return s.rep.failf("http.max_body_bytes", ErrTooLarge, "the response body is larger than %d bytes", s.cfg.MaxBodyBytes)
	}
	return s.picks.apply(s.rep, "http", body, req)
}

func (s *httpSource) netErr(ctx context.Context, err error) *Error {
	// url.Error repeats the URL, which holds no secret (credentials in
	// the URL are refused), but its text is scrubbed all the same.
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return s.rep.timeoutErr("http.url", s.timeout, "the request")
	case ctx.Err() != nil:
		e := s.rep.fail("http.url", ErrQuery, err)
		e.cause = context.Canceled
		return e
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return s.rep.timeoutErr("http.url", s.timeout, "the request")
	}
	var oe *net.OpError
	var de *net.DNSError
	if (errors.As(err, &oe) && oe.Op == "dial") || errors.As(err, &de) {
		return s.rep.fail("http.url", ErrConnect, err)
	}
	return s.rep.fail("http.url", ErrQuery, err)
}
