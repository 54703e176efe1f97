package master

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// strictJSON is the JSON codec of the admin API. People send JSON by hand
// (curl), and a misspelt field silently ignored would do something other than
// what they meant, so unknown fields are refused. Binary protobuf keeps the
// usual forward compatibility for programs.
type strictJSON struct{}

func (strictJSON) Name() string { return "json" }

func (strictJSON) Marshal(m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("master: %T is not a protobuf message", m)
	}
	return protojson.Marshal(msg)
}

func (strictJSON) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("master: %T is not a protobuf message", m)
	}
	if len(b) == 0 {
		return nil
	}
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(b, msg)
}
