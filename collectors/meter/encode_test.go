package meter

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestToWire(t *testing.T) {
	s := sampleN(0, 4)
	w := toWire(s)
	require.Equal(t, "product", w.GetSource(), "header: %v", w)
	require.Equal(t, s.At.UnixMilli(), w.GetAtMs(), "header: %v", w)
	require.Equal(t, int64(4), w.GetScalars()["users"], "header: %v", w)
	wantRoles := []string{"super", "staff", "manager", "rep"}
	for i, u := range w.GetUsers() {
		in := s.Users[i]
		assert.Equal(t, string(in.UserID), u.GetUserId(), "user %d: %v from %+v", i, u, in)
		assert.Equal(t, wantRoles[i], u.GetRole(), "user %d: %v from %+v", i, u, in)
		assert.Equal(t, in.Enabled, u.GetEnabled(), "user %d: %v from %+v", i, u, in)
		assert.Equal(t, in.Locked, u.GetLocked(), "user %d: %v from %+v", i, u, in)
		assert.Equal(t, in.InTrash, u.GetInTrash(), "user %d: %v from %+v", i, u, in)
	}
	ended, open := w.GetLogons()[0], w.GetLogons()[1]
	assert.Equal(t, s.Logons[0].Start.UnixMilli(), ended.GetStartMs(), "ended logon: %v", ended)
	assert.Equal(t, s.Logons[0].End.UnixMilli(), ended.GetEndMs(), "ended logon: %v", ended)
	assert.False(t, ended.GetLocked(), "ended logon: %v", ended)
	assert.Zero(t, open.GetEndMs(), "open logon: %v, want end_ms 0", open)
	assert.True(t, open.GetLocked(), "open logon: %v", open)
	assert.Equal(t, "manager", open.GetRole(), "open logon: %v", open)
}

func TestEncodeSplitsWithinLimit(t *testing.T) {
	s := sampleN(3, 500)
	whole, err := proto.Marshal(toWire(s))
	require.NoError(t, err)
	got, err := encodeSample(s, len(whole))
	require.NoError(t, err, "a sample exactly at the limit")
	require.Len(t, got, 1, "a sample exactly at the limit: payloads")
	for _, limit := range []int{200, 1 << 10, 4 << 10} {
		parts, err := encodeSample(s, limit)
		require.NoError(t, err)
		users, logons := 0, 0
		for i, p := range parts {
			assert.LessOrEqual(t, len(p), limit, "limit %d: payload %d bytes", limit, i)
			var smp licmeshv1.UsageSample
			require.NoError(t, proto.Unmarshal(p, &smp))
			assert.Equal(t, s.At.UnixMilli(), smp.GetAtMs(), "limit %d: payload %d lost the sample's time", limit, i)
			assert.Equal(t, s.Source, smp.GetSource(), "limit %d: payload %d lost the sample's source", limit, i)
			users += len(smp.GetUsers())
			logons += len(smp.GetLogons())
		}
		assert.Equal(t, 500, users, "limit %d: %d payloads with %d users and %d logons", limit, len(parts), users, logons)
		assert.Equal(t, 2, logons, "limit %d: %d payloads with %d users and %d logons", limit, len(parts), users, logons)
		assert.GreaterOrEqual(t, len(parts), len(whole)/limit, "limit %d: %d payloads with %d users and %d logons", limit, len(parts), users, logons)
	}
}
