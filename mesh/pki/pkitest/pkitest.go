// Package pkitest issues throwaway cluster certificates for tests: a CA,
// masters' certificates and collectors' client certificates. Everything is
// valid for an hour from the real time, which is what TLS handshakes check
// certificates against, whatever clock the code under test is given.
package pkitest

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/pki"
)

// ttl is how long the certificates issued here live.
const ttl = time.Hour

// NewCA returns a new CA for clusterID.
func NewCA(t testing.TB, clusterID string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(clusterID, time.Now())
	require.NoError(t, err, "pkitest: new CA")
	return ca
}

// MasterCert issues a master's certificate for nodeID, usable as TLS server
// and client. 127.0.0.1, ::1 and localhost are always among its names;
// hosts adds more.
func MasterCert(t testing.TB, ca *pki.CA, nodeID string, hosts ...string) tls.Certificate {
	t.Helper()
	cert, err := ca.IssueNode(nodeID, hosts, ttl, time.Now())
	require.NoError(t, err, "pkitest: issue master certificate")
	return cert
}

// CollectorCert issues a collector's client certificate for collectorID,
// with a fresh key, as enrollment does.
func CollectorCert(t testing.TB, ca *pki.CA, collectorID string) tls.Certificate {
	t.Helper()
	csr, key, err := pki.NewCSR(collectorID)
	require.NoError(t, err, "pkitest: new CSR")
	der, err := ca.SignCSR(csr, collectorID, ttl, time.Now())
	require.NoError(t, err, "pkitest: sign CSR")
	cert, err := pki.TLSCertificate(key, der)
	require.NoError(t, err, "pkitest: collector certificate")
	return cert
}
