package meter

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/collectors/sources"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// Field numbers of UsageSample's repeated fields, for sizing chunks.
const (
	usersField  = 4
	logonsField = 5
)

// toWire converts a sample to its protocol form. Rejected rows are the
// source's business (it logs them); they are not reported.
func toWire(s sources.Sample) *licmeshv1.UsageSample {
	out := &licmeshv1.UsageSample{
		Source:  s.Source,
		AtMs:    s.At.UnixMilli(),
		Scalars: s.Scalars,
		Users:   make([]*licmeshv1.UsageUser, len(s.Users)),
		Logons:  make([]*licmeshv1.UsageLogon, len(s.Logons)),
	}
	for i, u := range s.Users {
		out.Users[i] = &licmeshv1.UsageUser{
			UserId: string(u.UserID), Role: u.Role.String(),
			Enabled: u.Enabled, Locked: u.Locked, InTrash: u.InTrash,
		}
	}
	for i, l := range s.Logons {
		var end int64
		if !l.End.IsZero() {
			end = l.End.UnixMilli()
		}
		out.Logons[i] = &licmeshv1.UsageLogon{
			UserId: string(l.UserID), Role: l.Role.String(), Locked: l.Locked,
			StartMs: l.Start.UnixMilli(), EndMs: end,
		}
	}
	return out
}

// encodeSample returns the payloads to spool for s, each at most limit
// bytes when its parts allow: one, or for a large sample several with the
// same source and time, the scalars in the first and the users and logons
// spread over them in order. A single user or logon (or the scalars alone)
// over limit makes a payload over limit, which the spool refuses.
func encodeSample(s sources.Sample, limit int) ([][]byte, error) {
	whole := toWire(s)
	if proto.Size(whole) <= limit {
		b, err := proto.Marshal(whole)
		return [][]byte{b}, err
	}
	var out [][]byte
	cur := &licmeshv1.UsageSample{Source: whole.Source, AtMs: whole.AtMs, Scalars: whole.Scalars}
	size := proto.Size(cur)
	flush := func() error {
		b, err := proto.Marshal(cur)
		if err != nil {
			return err
		}
		out = append(out, b)
		cur = &licmeshv1.UsageSample{Source: whole.Source, AtMs: whole.AtMs}
		size = proto.Size(cur)
		return nil
	}
	// add makes room for an element of n bytes in field num, then counts it.
	add := func(num protowire.Number, m proto.Message) error {
		n := protowire.SizeTag(num) + protowire.SizeBytes(proto.Size(m))
		if size+n > limit && (len(cur.Scalars) > 0 || len(cur.Users) > 0 || len(cur.Logons) > 0) {
			if err := flush(); err != nil {
				return err
			}
		}
		size += n
		return nil
	}
	for _, u := range whole.Users {
		if err := add(usersField, u); err != nil {
			return nil, err
		}
		cur.Users = append(cur.Users, u)
	}
	for _, l := range whole.Logons {
		if err := add(logonsField, l); err != nil {
			return nil, err
		}
		cur.Logons = append(cur.Logons, l)
	}
	if len(cur.Users) > 0 || len(cur.Logons) > 0 || len(out) == 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
