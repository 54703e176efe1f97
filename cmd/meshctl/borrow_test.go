package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/localapi"
)

// TestLeaseBorrow: meshctl lease borrow asks the collector's local API
// and prints the lease; bad flags are refused before any call, a refusal
// names the collector and its reason, and the exit status says which.
func TestLeaseBorrow(t *testing.T) {
	var got []localapi.BorrowRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/v1/leases/borrow", r.URL.Path)
		var req localapi.BorrowRequest
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		got = append(got, req)
		w.Header().Set("Content-Type", "application/json")
		if req.Pool == "plain" {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(localapi.ErrorResponse{Code: "refused", Error: "fsm: the pool lends no seats (its license allows no borrowing)"})
			return
		}
		_ = json.NewEncoder(w).Encode(localapi.Lease{ID: 42, Pool: req.Pool, Holder: req.Holder, State: "borrowed", Valid: true,
			Borrowed: true, ValidUntil: "2026-12-10T00:00:00Z", Token: "lml1.x.y"})
	}))
	defer srv.Close()

	out, _, code := runMeshctl(t, nil, "lease", "borrow", "--local", srv.URL, "--pool", "seats", "--holder", "alice", "--for", "3d")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "borrowed")
	assert.Contains(t, out, "2026-12-10T00:00:00Z")
	require.Len(t, got, 1)
	assert.Equal(t, localapi.BorrowRequest{Pool: "seats", Holder: "alice", Duration: "3d"}, got[0])

	out, _, code = runMeshctl(t, nil, "lease", "borrow", "--local", srv.URL, "--pool", "seats", "--holder", "alice", "--for", "72h", "-o", "json")
	require.Equal(t, 0, code)
	var l localapi.Lease
	require.NoError(t, json.Unmarshal([]byte(out), &l))
	assert.Equal(t, uint64(42), l.ID)

	_, errOut, code := runMeshctl(t, nil, "lease", "borrow", "--local", srv.URL, "--pool", "plain", "--holder", "alice", "--for", "1d")
	assert.NotZero(t, code)
	assert.Contains(t, errOut, "lends no seats")
	assert.Contains(t, errOut, srv.URL)

	calls := len(got)
	for _, args := range [][]string{
		{"--pool", "seats", "--holder", "alice", "--for", "a week"},
		{"--pool", "seats", "--holder", "alice", "--for", "91d"},
		{"--pool", "Bad Pool", "--holder", "alice", "--for", "1d"},
		{"--pool", "seats", "--holder", "", "--for", "1d"},
		{"--pool", "seats", "--holder", "alice", "--for", "1d", "-o", "csv"},
		{"--pool", "seats", "--holder", "alice", "--for", "1d", "--local", "ftp://x"},
	} {
		if !slices.Contains(args, "--local") {
			args = append(args, "--local", srv.URL)
		}
		_, errOut, code := runMeshctl(t, nil, append([]string{"lease", "borrow"}, args...)...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}
	assert.Len(t, got, calls, "bad flags made no call")

	_, errOut, code = runMeshctl(t, nil, "lease", "borrow", "--local", "http://127.0.0.1:1", "--pool", "seats", "--holder", "alice", "--for", "1d")
	assert.NotZero(t, code)
	assert.Contains(t, errOut, "is collectord running")
}
