package fsm

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/licmesh/licmesh/licensing/upstream"
)

// Upstream's snapshot records (format 3), after usage metering's, counted
// with them in the end record:
//
//	16 head    the hub link, the chain's head, the acknowledged position
//	           and the last license check; absent while all are empty
//	17 batch   one sealed batch of the outbox, by sequence
//	18 mark    one marked period and its change index, by key
const (
	recUpstreamHead  byte = 16
	recUpstreamBatch byte = 17
	recUpstreamMark  byte = 18
)

type upstreamHeadRecord struct {
	Hub      HubLink       `json:",omitzero"`
	HeadSeq  uint64        `json:",omitempty"`
	HeadHash string        `json:",omitempty"`
	Acked    uint64        `json:",omitempty"`
	AckHash  string        `json:",omitempty"`
	AckedAt  int64         `json:",omitempty"`
	AckedVia string        `json:",omitempty"`
	Check    UpstreamCheck `json:",omitzero"`
}

func (u *upstreamState) snapshot() ([]snapRecord, error) {
	var out []snapRecord
	add := func(kind byte, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("fsm: snapshot: upstream: %w", err)
		}
		out = append(out, snapRecord{kind, b})
		return nil
	}
	head := upstreamHeadRecord{Hub: u.hub, HeadSeq: u.headSeq, HeadHash: u.headHash, Acked: u.acked, AckHash: u.ackHash,
		AckedAt: u.ackedAt, AckedVia: u.ackedVia, Check: u.check}
	if head.Hub.URL != "" || head.HeadSeq != 0 || head.Check.At != 0 {
		if err := add(recUpstreamHead, head); err != nil {
			return nil, err
		}
	}
	for _, b := range u.outbox {
		if err := add(recUpstreamBatch, b); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(u.dirty)) {
		if err := add(recUpstreamMark, Mark{Key: k, Index: u.dirty[k]}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (rs *restorer) upstreamRecord(kind byte, body []byte) error {
	u := rs.st.upstream
	switch kind {
	case recUpstreamHead:
		var r upstreamHeadRecord
		if err := strictJSON(body, &r); err != nil {
			return badSnap("upstream head: %v", err)
		}
		if r.Hub.URL != "" {
			if err := r.Hub.validate(); err != nil {
				return badSnap("upstream hub: %v", err)
			}
		}
		if r.Acked > r.HeadSeq || (r.HeadSeq == 0) != (r.HeadHash == "") {
			return badSnap("upstream head: acknowledged %d past head %d, or head without hash", r.Acked, r.HeadSeq)
		}
		u.hub, u.headSeq, u.headHash = r.Hub, r.HeadSeq, r.HeadHash
		u.acked, u.ackHash, u.ackedAt, u.ackedVia, u.check = r.Acked, r.AckHash, r.AckedAt, r.AckedVia, r.Check
	case recUpstreamBatch:
		var r SealedBatch
		if err := strictJSON(body, &r); err != nil {
			return badSnap("upstream batch: %v", err)
		}
		s, err := upstream.ParseSigned(r.Signed, MaxSealedBatchBytes)
		switch {
		case err != nil:
			return badSnap("upstream batch %d: %v", r.Seq, err)
		case s.Hash() != r.Hash:
			return badSnap("upstream batch %d: hash does not match its bytes", r.Seq)
		case r.Seq <= u.acked || r.Seq > u.headSeq:
			return badSnap("upstream batch %d outside the unacknowledged range %d..%d", r.Seq, u.acked+1, u.headSeq)
		case len(u.outbox) > 0 && r.Seq != u.outbox[len(u.outbox)-1].Seq+1:
			return badSnap("upstream batch %d does not follow batch %d", r.Seq, u.outbox[len(u.outbox)-1].Seq)
		case len(u.outbox) >= MaxOutboxBatches:
			return badSnap("upstream outbox: more than %d batches", MaxOutboxBatches)
		}
		u.outbox = append(u.outbox, r)
	case recUpstreamMark:
		var m Mark
		if err := strictJSON(body, &m); err != nil {
			return badSnap("upstream mark: %v", err)
		}
		if m.Index == 0 || m.Index > rs.st.index || len(m.Key) < 3 {
			return badSnap("upstream mark %q: index %d", clip(m.Key), m.Index)
		}
		if err := rs.ordered("upstream mark", m.Key); err != nil {
			return err
		}
		u.dirty[m.Key] = m.Index
	}
	rs.counts[7]++
	return nil
}
