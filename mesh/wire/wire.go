// Package wire is the licmesh protocol: the protobuf IDL under proto/, the
// generated messages in licmeshv1 and the ConnectRPC bindings in
// licmeshv1/licmeshv1connect. Every RPC between collectors, masters, meshctl
// and the hub is defined here and nowhere else.
//
// Regenerate with `make generate` after editing a .proto file; the generated
// code is committed so a build never needs the generators.
package wire

// ProtocolVersion is the collector protocol version this build speaks. Both
// sides send theirs in Enroll and Hello; a master refuses a collector whose
// version it does not understand and says which versions it does.
const ProtocolVersion uint32 = 1

// MinProtocolVersion is the oldest collector protocol version this build
// still serves.
const MinProtocolVersion uint32 = 1

// Supported reports whether a peer speaking version v can be served.
func Supported(v uint32) bool {
	return v >= MinProtocolVersion && v <= ProtocolVersion
}
