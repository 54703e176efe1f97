package transport

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"testing"
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
	if code, _ := do(b, hc, http.MethodPost, url, bytes.NewReader(payload)); code != http.StatusOK {
		b.Fatalf("warm-up: status %d", code)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n != int64(len(payload)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}
