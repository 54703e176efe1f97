package master

import (
	"fmt"
	"strconv"

	"github.com/licmesh/licmesh/mesh/cluster"
	"github.com/licmesh/licmesh/node/fsm"
)

// Mixed versions during a rolling update: a master built before a message
// type cannot apply an entry of it, and would fall out of step with the
// others. Masters advertise the highest type they apply (metaFSM); a
// master proposes a type newer than the oldest voter's only after every
// voter it can see knows it. Masters built before the advertisement knew
// the types up to legacyMaxType.
const legacyMaxType fsm.MsgType = fsm.AlertDeliveredType

// ErrVoterTooOld means a voter runs a version that cannot apply the
// command; finish the update first.
var ErrVoterTooOld = fmt.Errorf("master: a master runs an older version that cannot apply this change")

// voterTooOld returns a voter, among those gossip shows, that cannot apply
// t, or "" when every one can.
func voterTooOld(members []cluster.Member, t fsm.MsgType) string {
	for _, m := range members {
		if !m.Voter || len(m.Meta) == 0 {
			continue // not seen in gossip now: its version is unknown, not old
		}
		known := legacyMaxType
		if v, err := strconv.Atoi(m.Meta[metaFSM]); err == nil {
			known = fsm.MsgType(v)
		}
		if t.Base() > known {
			return string(m.ID) + " (" + m.Meta[metaVersion] + ")"
		}
	}
	return ""
}

// checkVoters refuses a command some voter cannot apply.
func (s *Server) checkVoters(t fsm.MsgType) error {
	if t.Base() <= legacyMaxType {
		return nil
	}
	if old := voterTooOld(s.node.Members(), t); old != "" {
		return fmt.Errorf("%w: %s does not know %s; update it first", ErrVoterTooOld, old, t)
	}
	return nil
}
