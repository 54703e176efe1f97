package license

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
)

// FormatVersion is the payload format this build writes and reads.
const FormatVersion = 1

// MaxPayloadSize bounds a payload's JSON, and so a license.
const MaxPayloadSize = 64 << 10

// Type is the kind of license.
type Type string

// License types (seed 003: subscription, perpetual and volume; seed 001:
// trials).
const (
	// Subscription runs until expires_at and is renewed by a new license
	// with the same subscription ID.
	Subscription Type = "subscription"
	// Perpetual never expires; updates released after its updates_until
	// date are not covered.
	Perpetual Type = "perpetual"
	// Trial is a time-limited evaluation: it ends with its trial period.
	Trial Type = "trial"
	// Volume runs until expires_at and covers a number of installations.
	Volume Type = "volume"
)

// Billing is how the customer is billed. It is metadata: nothing on site
// depends on it.
type Billing string

// Billing types.
const (
	Monthly   Billing = "monthly"
	Quarterly Billing = "quarterly"
	Annually  Billing = "annually"
)

// FeatureType is the kind of a feature; seed 002 knows only checkboxes.
type FeatureType string

// Feature types.
const (
	// Checkbox is a module that is on or off.
	Checkbox FeatureType = "checkbox"
)

// Scope is what a feature applies to; seed 002 knows only instances.
type Scope string

// Feature scopes.
const (
	// Instance applies to a whole installation of the product.
	Instance Scope = "instance"
)

// Payload is what a vendor signs: the whole license. Its JSON form is
// strict (see ParsePayload); docs/licenses.md has an example.
type Payload struct {
	// Format is FormatVersion.
	Format int `json:"format"`
	// ID identifies this license.
	ID LicenseID `json:"license_id"`
	// Customer is who bought it.
	Customer Customer `json:"customer"`
	// Product is what was bought.
	Product Product `json:"product"`
	// Type is subscription, perpetual, trial or volume; the block of the
	// same name holds its terms (trial's is Trial).
	Type Type `json:"type"`
	// Subscription holds a subscription's renewal terms; required for
	// subscriptions, refused for other types.
	Subscription *SubscriptionTerms `json:"subscription,omitempty"`
	// Perpetual holds a perpetual license's terms; required for perpetual
	// licenses, refused for other types.
	Perpetual *PerpetualTerms `json:"perpetual,omitempty"`
	// Volume holds a volume license's terms; required for volume
	// licenses, refused for other types.
	Volume *VolumeTerms `json:"volume,omitempty"`
	// Trial is the trial period, which starts at NotBefore. Required for
	// trial licenses, whose ExpiresAt may not be later than its end; any
	// other type may start with one, during which TrialTemplate's pools
	// apply.
	Trial *TrialPeriod `json:"trial,omitempty"`
	// Billing is metadata: monthly, quarterly or annually, or absent.
	Billing Billing `json:"billing,omitempty"`
	// IssuedAt is when the vendor signed the license.
	IssuedAt time.Time `json:"issued_at"`
	// NotBefore is when the license starts; trusted time before it is
	// refused.
	NotBefore time.Time `json:"not_before"`
	// ExpiresAt is when the license ends: required, and after NotBefore,
	// for every type but perpetual, which must not have one.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Grace is how long after ExpiresAt the license is still accepted (and
	// collectors still work offline) while the customer renews.
	Grace Duration `json:"grace,omitzero"`
	// ClusterID, when set, binds the license to that cluster only.
	ClusterID ClusterID `json:"cluster_id,omitempty"`
	// Quantity is how many units were bought; templates scale by it.
	Quantity int `json:"quantity"`
	// Features are the product's modules and whether this license enables
	// each one.
	Features []Feature `json:"features,omitempty"`
	// TrialTemplate gives the pools during the trial period.
	TrialTemplate []TemplateEntry `json:"trial_template,omitempty"`
	// LicenseTemplate gives the pools after the trial (or throughout, with
	// no trial). Exclusive with Pools.
	LicenseTemplate []TemplateEntry `json:"license_template,omitempty"`
	// Pools are explicit pools, for a license tailored to one customer
	// instead of evaluated from a template. Exclusive with LicenseTemplate.
	Pools []Pool `json:"pools,omitempty"`
	// Credits are usage credits for a license sold "on usage".
	Credits *Credits `json:"credits,omitempty"`
	// SubscriptionID ties the licenses of one subscription together, so a
	// renewal replaces the license it renews (see Replaces).
	SubscriptionID SubscriptionID `json:"subscription_id,omitempty"`
	// Supersedes lists licenses this one replaces.
	Supersedes []LicenseID `json:"supersedes,omitempty"`
}

// Customer is who a license was sold to.
type Customer struct {
	ID   CustomerID `json:"id"`
	Name string     `json:"name"`
}

// Product is a SKU (seed 002): what is sold, made from one version of one
// application.
type Product struct {
	SKU  SKU    `json:"sku"`
	Name string `json:"name"`
	// Application is the application the product is made from, like
	// "orektic__timesheet".
	Application string `json:"application"`
	// Version is the application version the product was published with.
	Version string `json:"version"`
}

// SubscriptionTerms are a subscription's renewal terms: it renews every
// RenewalPeriodCount RenewalPeriodUnits.
type SubscriptionTerms struct {
	RenewalPeriodCount int  `json:"renewal_period_count"`
	RenewalPeriodUnit  Unit `json:"renewal_period_unit"`
	// AutoRenew says the vendor renews without being asked. It extends
	// nothing on site: only a new signed license does.
	AutoRenew bool `json:"auto_renew"`
}

// PerpetualTerms are a perpetual license's terms.
type PerpetualTerms struct {
	// UpdatesUntil is the last release date the license covers.
	UpdatesUntil time.Time `json:"updates_until"`
}

// VolumeTerms are a volume license's terms.
type VolumeTerms struct {
	// Installations is how many installations of the product (each beside
	// one collector) the license covers.
	Installations int `json:"installations"`
}

// TrialPeriod is a trial's length (seed 002: trial period count and
// unit), counted from the license's NotBefore.
type TrialPeriod struct {
	PeriodCount int  `json:"period_count"`
	PeriodUnit  Unit `json:"period_unit"`
}

// Feature is a module of the product (seed 002).
type Feature struct {
	Name    string      `json:"name"`
	Type    FeatureType `json:"type"`
	Scope   Scope       `json:"scope"`
	Enabled bool        `json:"enabled"`
}

// ParsePayload decodes payload JSON strictly and validates it. Strict
// means: valid UTF-8, one JSON object and nothing after it, "format" equal
// to FormatVersion (checked first, so a newer format is reported as such),
// every key known and spelled exactly (encoding/json would otherwise match
// keys case-insensitively), no key twice. Signed bytes must mean one thing
// to every reader, so anything another parser could read differently is
// refused.
func ParsePayload(b []byte) (*Payload, error) {
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: payload has %d bytes, at most %d allowed", ErrTooLarge, len(b), MaxPayloadSize)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidPayload)
	}
	if err := checkFormat(b); err != nil {
		return nil, err
	}
	if err := scanStrict(b); err != nil {
		return nil, err
	}
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidPayload, describeJSONError(err))
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// checkFormat reads only the format version, leniently, so that a payload
// of a newer format is refused for its format and not for its new fields.
func checkFormat(b []byte) error {
	var probe struct {
		Format *json.RawMessage `json:"format"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidPayload, describeJSONError(err))
	}
	if probe.Format == nil {
		return fieldErr("format", fmt.Sprintf("is missing; want %d", FormatVersion))
	}
	var v int
	if err := json.Unmarshal(*probe.Format, &v); err != nil {
		return fieldErr("format", fmt.Sprintf("%s is not a format number", quote(string(*probe.Format))))
	}
	if v != FormatVersion {
		return fmt.Errorf("%w: format %d; this build reads format %d", ErrUnsupportedFormat, v, FormatVersion)
	}
	return nil
}

// describeJSONError names the field and offset of a decoding error where
// encoding/json knows them.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("JSON syntax error at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s: want %s, got JSON %s", typ.Field, jsonKind(typ.Type), typ.Value)
		}
		return fmt.Sprintf("want %s, got JSON %s", jsonKind(typ.Type), typ.Value)
	}
	return err.Error()
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonKind names the JSON value t is decoded from.
func jsonKind(t reflect.Type) string {
	// A type that decodes itself from text (lease.Enforcement, a number
	// underneath) wants a string.
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	k := t.Kind().String()
	switch k {
	case "int", "int64":
		return "a whole number"
	case "string":
		return "a string"
	case "struct":
		return "an object"
	case "slice":
		return "an array"
	case "bool":
		return "true or false"
	}
	return k
}
