package wire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// StrictJSON is the JSON codec of the APIs people call by hand (the masters'
// admin API, the hub's): with curl, a misspelt field silently ignored would
// do something other than what was meant, so unknown fields are refused.
// Binary protobuf keeps the usual forward compatibility for programs. Use
// it with connect.WithCodec(wire.StrictJSON{}).
type StrictJSON struct{}

func (StrictJSON) Name() string { return "json" }

func (StrictJSON) Marshal(m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("wire: %T is not a protobuf message", m)
	}
	return protojson.Marshal(msg)
}

func (StrictJSON) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("wire: %T is not a protobuf message", m)
	}
	if len(b) == 0 {
		return nil
	}
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(b, msg)
}
