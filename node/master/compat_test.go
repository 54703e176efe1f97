package master

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/licmesh/licmesh/mesh/cluster"
	"github.com/licmesh/licmesh/node/fsm"
)

// TestNewCommandsWaitForEveryVoter: a command of a type a voter's build
// does not apply is refused while that voter runs; a voter gossip does not
// show (down) does not hold anything up.
func TestNewCommandsWaitForEveryVoter(t *testing.T) {
	now := map[string]string{metaVersion: "v2", metaFSM: strconv.Itoa(int(fsm.MaxMsgType))}
	legacy := map[string]string{metaVersion: "v1"}
	members := []cluster.Member{{ID: "m1", Voter: true, Meta: now}, {ID: "m2", Voter: true, Meta: now}, {ID: "m3", Voter: true, Meta: legacy}}
	assert.Equal(t, "m3 (v1)", voterTooOld(members, fsm.CreateUserType))
	assert.Empty(t, voterTooOld(members, fsm.AlertDeliveredType), "a type the old build knows")
	members[2].Meta = map[string]string{}
	assert.Empty(t, voterTooOld(members, fsm.CreateUserType), "a voter down is not a voter too old")
	members[2] = cluster.Member{ID: "m3", Voter: false, Meta: legacy}
	assert.Empty(t, voterTooOld(members, fsm.CreateUserType), "a non-voter applies what it can")
	members[2] = cluster.Member{ID: "m3", Voter: true, Meta: map[string]string{metaVersion: "v1.5", metaFSM: strconv.Itoa(int(fsm.CreateUserType))}}
	assert.Empty(t, voterTooOld(members, fsm.UpdateUserType-1))
	assert.Equal(t, "m3 (v1.5)", voterTooOld(members, fsm.SetDepartmentType))
}
