package meter

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func TestToWire(t *testing.T) {
	s := sampleN(0, 4)
	w := toWire(s)
	if w.GetSource() != "product" || w.GetAtMs() != s.At.UnixMilli() || w.GetScalars()["users"] != 4 {
		t.Fatalf("header: %v", w)
	}
	wantRoles := []string{"super", "staff", "manager", "rep"}
	for i, u := range w.GetUsers() {
		in := s.Users[i]
		if u.GetUserId() != string(in.UserID) || u.GetRole() != wantRoles[i] || u.GetEnabled() != in.Enabled ||
			u.GetLocked() != in.Locked || u.GetInTrash() != in.InTrash {
			t.Errorf("user %d: %v from %+v", i, u, in)
		}
	}
	ended, open := w.GetLogons()[0], w.GetLogons()[1]
	if ended.GetStartMs() != s.Logons[0].Start.UnixMilli() || ended.GetEndMs() != s.Logons[0].End.UnixMilli() || ended.GetLocked() {
		t.Errorf("ended logon: %v", ended)
	}
	if open.GetEndMs() != 0 || !open.GetLocked() || open.GetRole() != "manager" {
		t.Errorf("open logon: %v, want end_ms 0", open)
	}
}

func TestEncodeSplitsWithinLimit(t *testing.T) {
	s := sampleN(3, 500)
	whole, err := proto.Marshal(toWire(s))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := encodeSample(s, len(whole)); err != nil || len(got) != 1 {
		t.Fatalf("a sample exactly at the limit: %d payloads, %v", len(got), err)
	}
	for _, limit := range []int{200, 1 << 10, 4 << 10} {
		parts, err := encodeSample(s, limit)
		if err != nil {
			t.Fatal(err)
		}
		users, logons := 0, 0
		for i, p := range parts {
			if len(p) > limit {
				t.Errorf("limit %d: payload %d is %d bytes", limit, i, len(p))
			}
			var smp licmeshv1.UsageSample
			if err := proto.Unmarshal(p, &smp); err != nil {
				t.Fatal(err)
			}
			if smp.GetAtMs() != s.At.UnixMilli() || smp.GetSource() != s.Source {
				t.Errorf("limit %d: payload %d lost the sample's source or time", limit, i)
			}
			users += len(smp.GetUsers())
			logons += len(smp.GetLogons())
		}
		if users != 500 || logons != 2 || len(parts) < len(whole)/limit {
			t.Errorf("limit %d: %d payloads with %d users and %d logons", limit, len(parts), users, logons)
		}
	}
}
