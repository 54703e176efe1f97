package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/config"
)

func TestLocalAPIHealth(t *testing.T) {
	healthz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	})
	sock := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := &http.Server{Handler: healthz}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	tcp := httptest.NewServer(healthz)
	t.Cleanup(tcp.Close)
	addr := strings.TrimPrefix(tcp.URL, "http://")

	ctx := context.Background()
	require.Nil(t, localAPIHealth(config.Config{}), "a check with the local API off")
	require.NoError(t, localAPIHealth(config.Config{Socket: sock, Listen: addr})(ctx), "both answer")
	require.NoError(t, localAPIHealth(config.Config{Socket: sock})(ctx), "the socket answers")

	gone := httptest.NewServer(healthz)
	gone.Close()
	err = localAPIHealth(config.Config{Socket: sock, Listen: strings.TrimPrefix(gone.URL, "http://")})(ctx)
	require.ErrorContains(t, err, strings.TrimPrefix(gone.URL, "http://"), "a listener that does not answer")
}
