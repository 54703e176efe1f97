package e2e

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// daysLeft reads a license's days left from m, waiting for m to have caught
// up with the license (a master just restarted may still be replaying).
func daysLeft(t *testing.T, m *harness.Master, id string) string {
	t.Helper()
	var days string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		out, errOut, code := m.Meshctl("license", "list", "-o", "csv")
		if code != 0 {
			c.Errorf("%s license list: %s", m.ID, errOut)
			return
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			c.Errorf("%v", err)
			return
		}
		col := -1
		for i, h := range recs[0] {
			if h == "DAYS LEFT" {
				col = i
			}
		}
		for _, r := range recs[1:] {
			if r[0] == id && col >= 0 {
				days = r[col]
				return
			}
		}
		c.Errorf("%s does not list %s yet:\n%s", m.ID, id, out)
	}, 20*time.Second, 50*time.Millisecond, "days left of %s on %s", id, m.ID)
	return days
}

func tampered(t *testing.T, m *harness.Master) bool {
	t.Helper()
	var st interface{ GetClockTampered() bool }
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		s, err := m.Status()
		if err != nil {
			c.Errorf("%v", err)
			return
		}
		st = s
	}, 20*time.Second, 50*time.Millisecond, "status of %s", m.ID)
	return st.GetClockTampered()
}

// TestClockSetBackExtendsNothing (P7): validity is judged at the cluster's
// high-water mark of trusted time. A master whose clock is set back an hour
// is tolerated; 25 hours or a year is reported as tampering; and with every
// master set back a year, no license gains a day.
func TestClockSetBackExtendsNothing(t *testing.T) {
	keyFile, trust := vendorKey(t)
	c := harness.StartCluster(t, 3, harness.Options{ExtraArgs: []string{"--vendor-keys", trust}})
	leader := c.WaitReady(60 * time.Second)
	st, err := leader.Status()
	require.NoError(t, err)
	lic := signLicense(t, keyFile, "lic-clock", st.ClusterId, 2, time.Now().Add(10*24*time.Hour).UTC().Truncate(time.Second))
	_, errOut, code := leader.Meshctl("license", "add", lic)
	require.Equal(t, 0, code, "license add: %s", errOut)
	before := daysLeft(t, leader, "lic-clock")

	restart := func(m *harness.Master, offset time.Duration) {
		t.Helper()
		m.Process().Kill()
		m.Args = []string{"--debug-clock-offset", offset.String()}
		m.Start()
	}
	for _, tc := range []struct {
		offset   time.Duration
		tampered bool
	}{
		{-time.Hour, false},
		{-25 * time.Hour, true},
		{-365 * 24 * time.Hour, true},
	} {
		m := c.Masters[2]
		restart(m, tc.offset)
		c.WaitReady(60 * time.Second)
		// Days left first: reading the license waits for m to catch up
		// with the replicated trusted time that tampering is judged by.
		assert.Equal(t, before, daysLeft(t, m, "lic-clock"), "clock set back %s: days left", tc.offset)
		assert.Equal(t, tc.tampered, tampered(t, m), "clock set back %s: tampered", tc.offset)
	}
	for _, m := range c.Masters[:2] {
		assert.False(t, tampered(t, m), "%s with a right clock reports tampering", m.ID)
	}

	// Every master a year behind: the cluster keeps judging at its mark.
	for _, m := range c.Masters {
		restart(m, -365*24*time.Hour)
	}
	c.WaitReady(60 * time.Second)
	// Writes made now carry last year's time; they must not move the mark
	// back, and nothing is extended.
	_, errOut, code = c.Masters[0].Meshctl("pool", "create", "late", "--seats", "1")
	require.Equal(t, 0, code, "pool create: %s", errOut)
	for _, m := range c.Masters {
		assert.Equal(t, before, daysLeft(t, m, "lic-clock"), "%s a year behind: days left", m.ID)
		assert.True(t, tampered(t, m), "%s a year behind does not report tampering", m.ID)
	}
	out, _, _ := c.Masters[0].Meshctl("license", "list", "-o", "csv")
	require.Contains(t, out, ",active,", "license no longer active")
}
