package upstream

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuoteFilesAreSignedByTheCluster(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	q := QuoteFile{ClusterID: "lm-aaaaaaaaaaaa", CreatedAt: time.Now(), Quotes: []Quote{
		{ID: "pr-1", SKU: "bpm", Pool: "designer", Quantity: 5, RequestedBy: "user:lem", ApprovedBy: "user:ada", RequestedAt: time.Now()}}}
	s, err := SealQuotes(q, key)
	require.NoError(t, err)
	b := s.Marshal()
	parsed, err := ParseSigned(b, MaxRequestBytes)
	require.NoError(t, err)
	cluster, err := PeekQuotes(parsed)
	require.NoError(t, err)
	assert.Equal(t, q.ClusterID, cluster)
	got, err := OpenQuotes(parsed, cluster, key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	assert.Equal(t, 5, got.Quotes[0].Quantity)

	_, err = OpenQuotes(parsed, cluster, other.Public().(ed25519.PublicKey))
	require.ErrorIs(t, err, ErrBadSignature, "another cluster's key")
	_, err = OpenQuotes(parsed, "lm-bbbbbbbbbbbb", key.Public().(ed25519.PublicKey))
	require.ErrorIs(t, err, ErrMalformed, "another cluster's file")
	q.Quotes[0].Module = "reports"
	_, err = SealQuotes(q, key)
	require.ErrorIs(t, err, ErrMalformed, "seats and a module")
	// A proof or a batch signature is no quote file's.
	p, err := SealProof(q.ClusterID, "check", time.Now(), key)
	require.NoError(t, err)
	_, err = OpenQuotes(p, q.ClusterID, key.Public().(ed25519.PublicKey))
	require.Error(t, err)
}
