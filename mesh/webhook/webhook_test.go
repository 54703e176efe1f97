package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostIsSignedAndVerified(t *testing.T) {
	secret := []byte("a-secret-of-some-length")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
		if !Verify(secret, ts, body, r.Header.Get(HeaderSignature), now, 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		got = append(got, r.Header.Get(HeaderDelivery)+" "+string(body))
	}))
	defer srv.Close()
	c := NewClient(5 * time.Second)
	require.NoError(t, Post(t.Context(), c, srv.URL+"/hook?token=abc", secret, "d1", []byte(`{"a":1}`), now))
	assert.Equal(t, []string{`d1 {"a":1}`}, got)

	err := Post(t.Context(), c, srv.URL+"/hook?token=abc", []byte("another secret!!"), "d2", []byte(`{}`), now)
	require.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "token=abc")
	// An old signature is refused by the receiver.
	assert.False(t, Verify(secret, now.Add(-time.Hour).Unix(), []byte(`{}`), Sign(secret, now.Add(-time.Hour).Unix(), []byte(`{}`)), now, 5*time.Minute))
	err = Post(t.Context(), c, "http://127.0.0.1:1/x?token=abc", secret, "d3", nil, now)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "token=abc")
}
