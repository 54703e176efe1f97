package master

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestAcquireRefusesBadRequests: a pool or holder that no lease document
// could carry is refused as InvalidArgument before it reaches Raft. The
// holder bound is the lease document's, lease.MaxHolderLen (255 bytes): a
// holder of that length is granted, with a token that verifies, and one of
// 256 bytes is refused here rather than by the FSM after a round through
// the log.
func TestAcquireRefusesBadRequests(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 2)
	ctx := context.WithValue(context.Background(), collectorKey{}, callerInfo{id: col, proto: "h2"})
	acquire := func(pool, holder string) (*connect.Response[licmeshv1.AcquireResponse], error) {
		return collectorHandler{s}.Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: pool, Holder: holder}))
	}

	before := lastIndex(s)
	for name, c := range map[string]struct{ pool, holder string }{
		"256-byte holder":   {"designer", strings.Repeat("h", 256)},
		"1 KiB holder":      {"designer", strings.Repeat("h", 1024)},
		"empty holder":      {"designer", ""},
		"control in holder": {"designer", "al\x00ice"},
		"invalid UTF-8":     {"designer", "al\xffice"},
		"empty pool":        {"", "alice"},
		"bad pool":          {"a b", "alice"},
		"long pool":         {strings.Repeat("p", lease.MaxPoolNameLen+1), "alice"},
	} {
		_, err := acquire(c.pool, c.holder)
		assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%s: %v", name, err)
	}
	assert.Equal(t, before, lastIndex(s), "a refused acquire reached Raft")

	holder := strings.Repeat("h", lease.MaxHolderLen)
	res, err := acquire("designer", holder)
	require.NoError(t, err, "%d-byte holder", lease.MaxHolderLen)
	assert.Equal(t, holder, res.Msg.GetLease().GetHolder())
	sg, err := s.signingKey()
	require.NoError(t, err)
	doc, err := lease.Verify(lease.Token(res.Msg.GetLease().GetToken()), sg.pub, clk.Now().Add(time.Second))
	require.NoError(t, err, "the lease token of a %d-byte holder", lease.MaxHolderLen)
	assert.Equal(t, holder, doc.Holder)
}
