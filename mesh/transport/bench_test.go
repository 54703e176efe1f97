package transport

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func BenchmarkRoundTripH3(b *testing.B) { benchmarkRoundTrip(b, ModeQUICOnly) }

func BenchmarkRoundTripH2(b *testing.B) { benchmarkRoundTrip(b, ModeTCPOnly) }

// benchmarkRoundTrip measures a small POST echoed back, the shape of a lease
// renewal, over one protocol.
func benchmarkRoundTrip(b *testing.B, mode Mode) {
	pki := newTestPKI(b)
	quiet := slog.New(slog.DiscardHandler)
	s := startServer(b, ServerConfig{TLS: pki.server, Handler: newTestHandler(), Logger: quiet})
	c := newTestClient(b, ClientConfig{TLS: pki.client, Mode: mode, Logger: quiet})
	hc := c.HTTPClient()
	url := baseURL(s) + "/echo"
	payload := bytes.Repeat([]byte("l"), 64)

	// Warm up so connection setup is not measured.
	code, _ := do(b, hc, http.MethodPost, url, bytes.NewReader(payload))
	require.Equal(b, http.StatusOK, code, "warm-up: status")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	// assert, not require: these run on RunParallel's goroutines.
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			if !assert.NoError(b, err) {
				return
			}
			resp, err := hc.Do(req)
			if !assert.NoError(b, err) {
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			statusOK := assert.Equal(b, http.StatusOK, resp.StatusCode, "status")
			sizeOK := assert.Equal(b, int64(len(payload)), n, "bytes echoed")
			if !statusOK || !sizeOK {
				return
			}
		}
	})
}
