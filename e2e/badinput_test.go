package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// TestBadInputIsRefusedAndChangesNothing sends garbled, oversized and
// malformed requests to every door of a master and a collector: each gets a
// clear error, and the cluster carries on unchanged.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	c, cols := startSite(t, harness.Options{}, "designer", 2, "hard", 1)
	m := c.Masters[0]
	hc, err := m.HTTPClient()
	require.NoError(t, err)
	tok, _ := c.AdminToken()
	before, err := m.Status()
	require.NoError(t, err)
	garbage := make([]byte, 4096)
	_, _ = rand.Read(garbage)
	huge := bytes.Repeat([]byte("x"), 6<<20)

	post := func(url, ctype string, body []byte, bearer bool) (int, string) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b)
	}
	admin := "https://" + m.APIAddr() + "/licmesh.v1.AdminService/"
	collector := "https://" + m.CollectorAddr() + "/licmesh.v1.CollectorService/"
	for _, tc := range []struct {
		name, url, ctype string
		body             []byte
		bearer           bool
		want             string
	}{
		{"admin garbage proto", admin + "CreatePool", "application/proto", garbage, true, "invalid"},
		{"admin garbled json", admin + "CreatePool", "application/json", []byte(`{"name": "x", "seats": `), true, "invalid"},
		{"admin unknown field", admin + "CreatePool", "application/json", []byte(`{"nmae":"x","seats":1,"enforce":"hard"}`), true, "unknown"},
		{"admin bad pool name", admin + "CreatePool", "application/json", []byte(`{"name":"../etc","seats":1,"enforce":"hard"}`), true, "pool"},
		{"admin no token", admin + "ListPools", "application/json", []byte(`{}`), false, "unauthenticated"},
		{"admin oversized", admin + "CreatePool", "application/json", huge, true, ""},
		{"enroll garbage", collector + "Enroll", "application/proto", garbage, false, "invalid"},
		{"enroll bad token id", collector + "Enroll", "application/json", []byte(`{"protocolVersion":1,"tokenId":"NOT VALID","tokenSecret":"AAAA","csr":"AAAA"}`), false, "token"},
		{"enroll old protocol", collector + "Enroll", "application/json", []byte(`{"protocolVersion":99}`), false, "protocol"},
		{"acquire without certificate", collector + "Acquire", "application/json", []byte(`{"pool":"designer","holder":"x"}`), false, "certificate"},
		{"collector oversized", collector + "Enroll", "application/json", huge, false, ""},
	} {
		url := tc.url
		code, body := post(url, tc.ctype, tc.body, tc.bearer)
		// 0 is no answer at all, 200 an accepted request.
		if !assert.NotContains(t, []int{0, 200}, code, "%s: status; body %.200s", tc.name, body) {
			continue
		}
		if tc.want != "" {
			assert.Contains(t, strings.ToLower(body), tc.want, "%s: %d: want a message about %q", tc.name, code, tc.want)
		}
	}

	// A TLS client that speaks nonsense after the handshake.
	conn, err := tls.Dial("tcp", m.CollectorAddr(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write(garbage)
		io.Copy(io.Discard, conn)
		conn.Close()
	}

	// The collector's local API.
	local := fmt.Sprintf("http://127.0.0.1:%d/v1/leases", cols[0].Port)
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"garbled json", `{"pool":`, 400},
		{"unknown field", `{"pool":"designer","holder":"a","extra":1}`, 400},
		{"empty holder", `{"pool":"designer","holder":""}`, 400},
		{"bad pool name", `{"pool":"Bad Pool!","holder":"a"}`, 400},
		{"oversized", `{"pool":"designer","holder":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
	} {
		resp, err := http.Post(local, "application/json", strings.NewReader(tc.body))
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Want tc.want with an error message.
		assert.Equal(t, tc.want, resp.StatusCode, "local API %s: status; body %.200s", tc.name, b)
		assert.Contains(t, string(b), "error", "local API %s", tc.name)
	}

	// Nothing changed, and everything still works.
	after, err := m.Status()
	require.NoError(t, err)
	require.Equal(t, before.Pools, after.Pools, "bad input changed the state: before %v, after %v", before, after)
	require.Equal(t, before.Leases, after.Leases, "bad input changed the state: before %v, after %v", before, after)
	require.Equal(t, before.Collectors, after.Collectors, "bad input changed the state: before %v, after %v", before, after)
	_, err = cols[0].Acquire("designer", "still-works")
	require.NoError(t, err)
	for _, mm := range c.Masters {
		require.True(t, mm.Proc.Running(), "%s died", mm.ID)
	}
}
