package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// VendorKey is one of the vendor's license signing keys. The private key
// is stored sealed (encrypted with the hub's data key, which is not in the
// database); the store never sees it in the clear.
type VendorKey struct {
	KeyID            string
	PublicKey        string // license.FormatPublicKey's "key-id:base64" form
	PrivateKeySealed string
	CreatedAt        time.Time
	RetiredAt        time.Time // zero for the key that signs
}

func scanVendorKey(r interface{ Scan(...any) error }) (VendorKey, error) {
	var k VendorKey
	var created int64
	var retired sql.NullInt64
	err := r.Scan(&k.KeyID, &k.PublicKey, &k.PrivateKeySealed, &created, &retired)
	k.CreatedAt, k.RetiredAt = fromMS(created), fromNullMS(retired)
	return k, err
}

// AddVendorKey stores k as the signing key and retires the one before it
// (which still verifies what it signed).
func (t *Tx) AddVendorKey(ctx context.Context, k VendorKey) error {
	if k.KeyID == "" || k.PublicKey == "" || k.PrivateKeySealed == "" {
		return fmt.Errorf("%w: vendor key without ID or keys", ErrInvalid)
	}
	if _, err := t.exec(ctx, "retire vendor keys", `UPDATE vendor_keys SET retired_at = $1 WHERE retired_at IS NULL`, ms(k.CreatedAt)); err != nil {
		return err
	}
	_, err := t.exec(ctx, "vendor key "+k.KeyID, `INSERT INTO vendor_keys (key_id, public_key, private_key_sealed, created_at) VALUES ($1, $2, $3, $4)`,
		k.KeyID, k.PublicKey, k.PrivateKeySealed, ms(k.CreatedAt))
	return err
}

// SigningKey returns the vendor key that signs now.
func (t *Tx) SigningKey(ctx context.Context) (VendorKey, error) {
	k, err := scanVendorKey(t.tx.QueryRowContext(ctx, `SELECT key_id, public_key, private_key_sealed, created_at, retired_at FROM vendor_keys WHERE retired_at IS NULL`))
	if err != nil {
		return VendorKey{}, t.wrap("signing key", err)
	}
	return k, nil
}

// VendorKeys returns every vendor key, oldest first: the public halves are
// what the masters trust.
func (t *Tx) VendorKeys(ctx context.Context) ([]VendorKey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT key_id, public_key, private_key_sealed, created_at, retired_at FROM vendor_keys ORDER BY created_at, key_id`)
	if err != nil {
		return nil, t.wrap("vendor keys", err)
	}
	return collect(rows, scanVendorKey)
}
