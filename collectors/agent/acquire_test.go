package agent

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/licmesh/licmesh/licensing/lease"
)

// TestCheckHolder: the collector takes the holders the master and the
// lease document take, up to lease.MaxHolderLen (255) bytes, and refuses
// the rest as ErrInvalidInput without a call.
func TestCheckHolder(t *testing.T) {
	assert.NoError(t, CheckHolder("designer", "alice"))
	assert.NoError(t, CheckHolder("designer", strings.Repeat("h", lease.MaxHolderLen)), "%d-byte holder", lease.MaxHolderLen)
	for name, c := range map[string]struct{ pool, holder string }{
		"256-byte holder":   {"designer", strings.Repeat("h", 256)},
		"empty holder":      {"designer", ""},
		"control in holder": {"designer", "al\x00ice"},
		"invalid UTF-8":     {"designer", "al\xffice"},
		"empty pool":        {"", "alice"},
		"bad pool":          {"a b", "alice"},
	} {
		assert.ErrorIs(t, CheckHolder(c.pool, c.holder), ErrInvalidInput, name)
	}
}
