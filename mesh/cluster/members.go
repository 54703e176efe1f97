package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"
	"sync"

	"github.com/hashicorp/memberlist"
)

// Reserved memberlist meta keys. Config.Meta may not use them.
const (
	// MetaKeyRole marks a member as a master (value MetaRoleMaster).
	MetaKeyRole = "role"
	// MetaKeyRaftAddr carries the member's advertised Raft address.
	MetaKeyRaftAddr = "raft_addr"
	// MetaKeyBootstrapExpect carries the member's BootstrapExpect.
	MetaKeyBootstrapExpect = "bootstrap_expect"
	// MetaKeyRaftState is "1" once the member has Raft state, so that a fresh
	// node never bootstraps beside an existing cluster.
	MetaKeyRaftState = "raft_state"

	// MetaRoleMaster is MetaKeyRole's value for masters.
	MetaRoleMaster = "master"
)

var reservedMetaKeys = []string{MetaKeyRole, MetaKeyRaftAddr, MetaKeyBootstrapExpect, MetaKeyRaftState}

// MemberState is a member's state as this node knows it.
type MemberState string

// Member states. memberlist does not report its "suspect" state through its
// event API, so a suspect member shows as alive until it is declared dead.
const (
	// StateAlive is a member memberlist currently reaches (or suspects).
	StateAlive MemberState = "alive"
	// StateDead is a member memberlist declared failed; it stays a voter.
	StateDead MemberState = "dead"
	// StateLeft is a member that left gracefully; the leader removes it.
	StateLeft MemberState = "left"
	// StateUnknown is a Raft server this node has not seen in memberlist.
	StateUnknown MemberState = "unknown"
)

// Member is one master as seen through memberlist and the Raft configuration.
type Member struct {
	ID NodeID
	// GossipAddr is empty for a Raft server never seen in memberlist.
	GossipAddr string
	RaftAddr   string
	// Meta is the member's Config.Meta (reserved keys removed).
	Meta  map[string]string
	State MemberState
	// Voter is true when the member is a voter in this node's latest view
	// of the Raft configuration.
	Voter bool
	// Leader is true for the member this node believes leads.
	Leader bool
}

// encodeMeta is deterministic (encoding/json sorts map keys), so an unchanged
// meta map never looks like an update to memberlist.
func encodeMeta(m map[string]string) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// A map[string]string always marshals.
		panic(err)
	}
	return b
}

func decodeMeta(b []byte) (map[string]string, error) {
	m := map[string]string{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// fullMeta adds the reserved keys to the user's meta.
func fullMeta(user map[string]string, raftAddr string, expect int, hasState bool) map[string]string {
	m := make(map[string]string, len(user)+len(reservedMetaKeys))
	maps.Copy(m, user)
	m[MetaKeyRole] = MetaRoleMaster
	m[MetaKeyRaftAddr] = raftAddr
	m[MetaKeyBootstrapExpect] = strconv.Itoa(expect)
	m[MetaKeyRaftState] = "0"
	if hasState {
		m[MetaKeyRaftState] = "1"
	}
	return m
}

func validateMeta(user map[string]string, raftAddr string) error {
	for k := range user {
		if k == "" {
			return fmt.Errorf("empty key")
		}
		for _, r := range reservedMetaKeys {
			if k == r {
				return fmt.Errorf("key %q is reserved", k)
			}
		}
	}
	size := len(encodeMeta(fullMeta(user, raftAddr, 5, true)))
	if size > memberlist.MetaMaxSize {
		return fmt.Errorf("encodes to %d bytes, memberlist allows %d", size, memberlist.MetaMaxSize)
	}
	return nil
}

// memberEntry is this node's copy of a memberlist node; memberlist's own Node
// values must not be read outside its callbacks.
type memberEntry struct {
	id         NodeID
	gossipAddr string
	meta       map[string]string // full meta, reserved keys included
	state      MemberState
	// leaving is set by the member's leave intent: memberlist's events do
	// not say whether a node left or failed (Node.State is not filled in).
	leaving bool
}

func (e memberEntry) isMaster() bool { return e.meta[MetaKeyRole] == MetaRoleMaster }
func (e memberEntry) raftAddr() string {
	return e.meta[MetaKeyRaftAddr]
}
func (e memberEntry) hasState() bool { return e.meta[MetaKeyRaftState] == "1" }
func (e memberEntry) expect() int {
	n, err := strconv.Atoi(e.meta[MetaKeyBootstrapExpect])
	if err != nil {
		return -1
	}
	return n
}

// userMeta strips the reserved keys.
func (e memberEntry) userMeta() map[string]string {
	m := make(map[string]string, len(e.meta))
	maps.Copy(m, e.meta)
	for _, k := range reservedMetaKeys {
		delete(m, k)
	}
	return m
}

// memberTable tracks every member ever seen, including dead and left ones
// (memberlist forgets those), and wakes watchers on each change. It is
// memberlist's EventDelegate; memberlist calls it holding its own lock, so it
// must never call back into memberlist.
type memberTable struct {
	mu      sync.Mutex
	members map[NodeID]memberEntry
	changed chan struct{} // closed and replaced on every change
	onBad   func(id NodeID, err error)
}

func newMemberTable(onBadMeta func(id NodeID, err error)) *memberTable {
	return &memberTable{
		members: map[NodeID]memberEntry{},
		changed: make(chan struct{}),
		onBad:   onBadMeta,
	}
}

// watch returns a channel closed at the next change.
func (t *memberTable) watch() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// event records a memberlist event. gone is true for NotifyLeave, which
// memberlist sends both for a failure and for a graceful leave.
func (t *memberTable) event(n *memberlist.Node, gone bool) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		// Not one of ours or corrupted: keep it visible but never a master.
		t.onBad(NodeID(n.Name), err)
		meta = map[string]string{}
	}
	e := memberEntry{
		id:         NodeID(n.Name),
		gossipAddr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		meta:       meta,
		state:      StateAlive,
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old, known := t.members[e.id]
	switch {
	case gone && known && old.leaving:
		e.state, e.leaving = StateLeft, true
	case gone:
		e.state = StateDead
	case known && old.state == StateAlive:
		e.leaving = old.leaving // a meta update while leaving
	}
	t.setLocked(e)
}

// markLeaving records a member's leave intent, which may arrive just after
// memberlist reported it gone.
func (t *memberTable) markLeaving(id NodeID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.members[id]
	if !ok {
		return
	}
	e.leaving = true
	if e.state == StateDead {
		e.state = StateLeft
	}
	t.setLocked(e)
}

func (t *memberTable) setLocked(e memberEntry) {
	t.members[e.id] = e
	close(t.changed)
	t.changed = make(chan struct{})
}

// NotifyJoin implements memberlist.EventDelegate.
func (t *memberTable) NotifyJoin(n *memberlist.Node) { t.event(n, false) }

// NotifyUpdate implements memberlist.EventDelegate.
func (t *memberTable) NotifyUpdate(n *memberlist.Node) { t.event(n, false) }

// NotifyLeave implements memberlist.EventDelegate.
func (t *memberTable) NotifyLeave(n *memberlist.Node) { t.event(n, true) }

func (t *memberTable) get(id NodeID) (memberEntry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.members[id]
	return e, ok
}

// snapshot returns the entries sorted by ID. Entries are never mutated after
// insertion, so sharing their meta maps is safe.
func (t *memberTable) snapshot() []memberEntry {
	t.mu.Lock()
	out := make([]memberEntry, 0, len(t.members))
	for _, e := range t.members {
		out = append(out, e)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// User messages between members, sent over memberlist's TCP channel: a
// kind byte, then a member ID.
const (
	// msgLeaveIntent is sent by a member to all others just before its
	// graceful leave, so that they tell a leave from a failure.
	msgLeaveIntent byte = 1
	// msgRemoved is sent by a leader to a member that left once it is out of
	// the Raft configuration: a removed node may never receive the entry
	// that removes it (replication to it stops with the removal).
	msgRemoved byte = 2
)

func userMsg(kind byte, id NodeID) []byte { return append([]byte{kind}, id...) }

// gossipDelegate publishes this node's meta and receives user messages; the
// rest of memberlist.Delegate is unused.
type gossipDelegate struct {
	meta      func() []byte
	members   *memberTable
	onRemoved func(NodeID)
}

// NodeMeta implements memberlist.Delegate.
func (d gossipDelegate) NodeMeta(limit int) []byte {
	b := d.meta()
	if len(b) > limit {
		// New checked the size; truncating would publish garbage, so publish
		// nothing rather than let memberlist panic.
		return nil
	}
	return b
}

// NotifyMsg implements memberlist.Delegate. Messages are authenticated by
// the gossip key like everything else in memberlist.
func (d gossipDelegate) NotifyMsg(b []byte) {
	if len(b) < 2 {
		return
	}
	switch id := NodeID(b[1:]); b[0] {
	case msgLeaveIntent:
		d.members.markLeaving(id)
	case msgRemoved:
		d.onRemoved(id)
	}
}

// GetBroadcasts implements memberlist.Delegate.
func (gossipDelegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState implements memberlist.Delegate.
func (gossipDelegate) LocalState(bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate.
func (gossipDelegate) MergeRemoteState([]byte, bool) {}

func sortMembers(ms []Member) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
}
