package master

import (
	"crypto/tls"
	"fmt"

	"github.com/licmesh/licmesh/mesh/pki"
)

// serverTLS is used on the API and collector ports: a client certificate is
// verified when given (masters, enrolled collectors) and optional otherwise
// (enrollment, operators with an admin token).
func (s *Server) serverTLS() *tls.Config {
	c := s.id.ca.ServerTLS(s.cert, tls.VerifyClientCertIfGiven)
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}

// raftServerTLS admits only masters of this cluster to the Raft port.
func (s *Server) raftServerTLS() *tls.Config {
	c := s.id.ca.ServerTLS(s.cert, tls.RequireAndVerifyClientCert)
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		return requireRole(cs, pki.RoleMaster)
	}
	return c
}

// raftClientTLS dials other masters: the server's certificate must chain to
// the cluster CA, name the address dialed, and identify a master.
func (s *Server) raftClientTLS() *tls.Config { return s.peerClientTLS() }

func (s *Server) peerClientTLS() *tls.Config {
	c := pki.ClientTLS(s.id.ca.Pool(), &s.cert, "")
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		return requireRole(cs, pki.RoleMaster)
	}
	return c
}

func requireRole(cs tls.ConnectionState, want pki.Role) error {
	role, _, err := pki.VerifiedPeer(cs)
	if err != nil {
		return err
	}
	if role != want {
		return fmt.Errorf("master: peer is a %s, want a %s", role, want)
	}
	return nil
}
