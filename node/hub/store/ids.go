package store

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// IDs of the hub's records: each kind its own type, each value a prefix
// naming the kind and 20 random base32 characters (100 bits), so an ID
// pasted in the wrong place is refused rather than matched.
type (
	AccountID  string
	CompanyID  string
	ResellerID string
	APIKeyID   string
	LicenseID  string
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix + "_" + 20 random characters.
func newID(prefix string) string {
	var b [13]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + "_" + idEncoding.EncodeToString(b[:])[:20]
}

// NewAccountID returns a fresh account ID.
func NewAccountID() AccountID { return AccountID(newID("acc")) }

// NewCompanyID returns a fresh company ID.
func NewCompanyID() CompanyID { return CompanyID(newID("co")) }

// NewResellerID returns a fresh reseller ID.
func NewResellerID() ResellerID { return ResellerID(newID("rs")) }

// NewAPIKeyID returns a fresh API key ID.
func NewAPIKeyID() APIKeyID { return APIKeyID(newID("key")) }

// NewLicenseID returns a fresh license ID.
func NewLicenseID() LicenseID { return LicenseID(newID("lic")) }

// validID reports whether s looks like an ID of the kind prefix names.
func validID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) != 20 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// Valid reports whether id is well formed.
func (id CompanyID) Valid() bool { return validID(string(id), "co") }

// Valid reports whether id is well formed.
func (id AccountID) Valid() bool { return validID(string(id), "acc") }

// Valid reports whether id is well formed.
func (id ResellerID) Valid() bool { return validID(string(id), "rs") }

// Valid reports whether id is well formed.
func (id LicenseID) Valid() bool { return validID(string(id), "lic") }

// Valid reports whether id is well formed.
func (id APIKeyID) Valid() bool { return validID(string(id), "key") }
