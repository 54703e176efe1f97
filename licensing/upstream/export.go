package upstream

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// ExportFormat names the export file format.
const ExportFormat = "licmesh-usage-export/1"

// Bounds on an export file.
const (
	MaxExportBytes   = 128 << 20
	MaxExportBatches = 1024
)

// Export is the file a site with no internet carries to its hub: batches
// of its chain, in order. Each batch is signed on its own; the file around
// them is not, and needs not be: the hub checks every batch against the
// cluster's registered key and the chain it holds, so an edited file,
// batches of another cluster, a missing batch or a reordered one are all
// refused.
type Export struct {
	Format    string            `json:"format"`
	ClusterID license.ClusterID `json:"cluster_id"`
	CreatedAt time.Time         `json:"created_at"`
	Batches   []Signed          `json:"batches"`
}

// Marshal writes the file: a header, then one batch per line, so that a
// human can see what it holds and a diff shows which batch changed.
func (e *Export) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"format\":%q,\"cluster_id\":%q,\"created_at\":%q,\"batches\":[", e.Format, e.ClusterID, e.CreatedAt.UTC().Format(time.RFC3339Nano))
	for i, s := range e.Batches {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n")
		b.Write(s.Marshal())
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
}

// ParseExport reads an export file's form. Its batches are verified by
// Open.
func ParseExport(b []byte) (*Export, error) {
	var e Export
	if err := decodeStrict(b, MaxExportBytes, &e, "usage export file"); err != nil {
		return nil, err
	}
	switch {
	case e.Format != ExportFormat:
		return nil, fmt.Errorf("%w: usage export file: format %q, this build reads %q", ErrMalformed, clip(e.Format), ExportFormat)
	case e.ClusterID.Validate() != nil:
		return nil, fmt.Errorf("%w: usage export file: %v", ErrMalformed, e.ClusterID.Validate())
	case len(e.Batches) == 0:
		return nil, fmt.Errorf("%w: usage export file holds no batches", ErrMalformed)
	case len(e.Batches) > MaxExportBatches:
		return nil, fmt.Errorf("%w: usage export file holds %d batches, at most %d", ErrTooLarge, len(e.Batches), MaxExportBatches)
	}
	return &e, nil
}

// Open verifies every batch of the file with the cluster's public key and
// checks that they follow each other, and returns them in order.
func (e *Export) Open(pub ed25519.PublicKey) ([]*Batch, []string, error) {
	out := make([]*Batch, 0, len(e.Batches))
	hashes := make([]string, 0, len(e.Batches))
	for i, s := range e.Batches {
		b, err := OpenBatch(s, e.ClusterID, pub)
		if err != nil {
			return nil, nil, fmt.Errorf("usage export file, batch %d of %d: %w", i+1, len(e.Batches), err)
		}
		if i > 0 {
			prev := out[i-1]
			if b.Seq != prev.Seq+1 {
				return nil, nil, fmt.Errorf("%w: usage export file: batch %d follows batch %d", ErrBrokenChain, b.Seq, prev.Seq)
			}
			if err := Link(prev.Seq, hashes[i-1], b); err != nil {
				return nil, nil, fmt.Errorf("usage export file: %w", err)
			}
		}
		out = append(out, b)
		hashes = append(hashes, s.Hash())
	}
	return out, hashes, nil
}

// ReceiptFormat is the payload format version of receipts.
const ReceiptFormat = 1

// MaxReceiptBytes bounds a receipt document.
const MaxReceiptBytes = 16 << 10

// Receipt is the hub's signed word that it holds a cluster's batches up to
// and including Seq, whose hash is Hash: the site may forget them.
type Receipt struct {
	Format    int               `json:"format"`
	ClusterID license.ClusterID `json:"cluster_id"`
	Seq       uint64            `json:"seq"`
	Hash      string            `json:"hash"`
	IssuedAt  time.Time         `json:"issued_at"`
}

// SealReceipt signs r with a vendor key.
func SealReceipt(r Receipt, key ed25519.PrivateKey, keyID license.KeyID) (Signed, error) {
	r.Format = ReceiptFormat
	if err := r.validate(); err != nil {
		return Signed{}, err
	}
	if err := keyID.Validate(); err != nil {
		return Signed{}, err
	}
	payload, _ := json.Marshal(r) // plain fields cannot fail
	return sign(receiptContext, key, string(keyID), payload), nil
}

func (r Receipt) validate() error {
	switch {
	case r.Format != ReceiptFormat:
		return fmt.Errorf("%w: receipt format %d, this build reads %d", ErrMalformed, r.Format, ReceiptFormat)
	case r.ClusterID.Validate() != nil:
		return fmt.Errorf("%w: receipt: %v", ErrMalformed, r.ClusterID.Validate())
	case r.Seq == 0 || !validHash(r.Hash):
		return fmt.Errorf("%w: receipt names no batch", ErrMalformed)
	case r.IssuedAt.IsZero():
		return fmt.Errorf("%w: receipt has no issue time", ErrMalformed)
	}
	return nil
}

// OpenReceipt verifies a receipt with the vendor keys a master trusts and
// checks it is for cluster.
func OpenReceipt(s Signed, keys license.Keyring, cluster license.ClusterID) (*Receipt, error) {
	pub, ok := keys[license.KeyID(s.KeyID)]
	if !ok {
		return nil, fmt.Errorf("%w: receipt is signed with vendor key %q, which this cluster does not trust", ErrBadSignature, clip(s.KeyID))
	}
	if err := s.verify(receiptContext, pub); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	var r Receipt
	if err := decodeStrict(s.Payload, MaxReceiptBytes, &r, "receipt"); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	if r.ClusterID != cluster {
		return nil, fmt.Errorf("%w: receipt is for cluster %s, this is %s", ErrWrongCluster, r.ClusterID, cluster)
	}
	return &r, nil
}
