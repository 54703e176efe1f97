package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/licensing/license"
)

// The vendor commands stand in for the vendor hub in tests and
// development: they make a vendor key and sign licenses with it. They work
// on local files only and never talk to a master.
func (a *app) vendorCommand() *cobra.Command {
	return group("vendor", "Make vendor keys and sign licenses, for tests and development",
		a.vendorKeygenCommand(),
		a.vendorSignCommand(),
	)
}

func (a *app) vendorKeygenCommand() *cobra.Command {
	var (
		keyID = "vendor-" + strconv.Itoa(time.Now().UTC().Year())
		dir   string
	)
	cmd := &cobra.Command{
		Use:   "keygen --out DIR [--key-id ID]",
		Short: "Make a vendor signing key",
		Long: `Make an Ed25519 vendor key. The private key goes to DIR/ID.key (mode 0600,
PKCS #8 PEM naming its key ID) and the public key, in the form masters trust,
to DIR/ID.pub and to stdout:

    vendor-2026:BASE64

An existing key file is never overwritten.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if err := license.KeyID(keyID).Validate(); err != nil {
				return usagef("--key-id: %v", err)
			}
			if dir == "" {
				return usagef("--out is empty")
			}
			return nil
		},
		RunE: a.action(func(context.Context, []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return fmt.Errorf("meshctl: making a key: %w", err)
			}
			id := license.KeyID(keyID)
			pemBytes, err := license.MarshalPrivateKey(id, priv)
			if err != nil {
				return err
			}
			line := license.FormatPublicKey(id, pub)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("meshctl: %w", err)
			}
			keyPath := filepath.Join(dir, keyID+".key")
			pubPath := filepath.Join(dir, keyID+".pub")
			if err := writeNew(keyPath, pemBytes, 0o600); err != nil {
				return err
			}
			if err := writeNew(pubPath, []byte(line+"\n"), 0o644); err != nil {
				// A private key without its public half is of no use and
				// would block the next attempt.
				_ = os.Remove(keyPath)
				return err
			}
			fmt.Fprintf(a.stderr, "wrote the private key to %s (keep it secret) and the public key to %s;\n"+
				"masters trust licenses signed with it given this line:\n", keyPath, pubPath)
			_, err = fmt.Fprintln(a.stdout, line)
			return err
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&keyID, "key-id", keyID, "the key's ID, named in every license it signs")
	fs.StringVar(&dir, "out", "", "directory to write ID.key and ID.pub in (made if missing)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("meshctl: %s already exists; not overwriting it", path)
	}
	if err != nil {
		return fmt.Errorf("meshctl: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("meshctl: writing %s: %w", path, err)
	}
	return nil
}

func (a *app) vendorSignCommand() *cobra.Command {
	var keyFile, keyID, out string
	cmd := &cobra.Command{
		Use:   "sign --key FILE [--key-id ID] [--out FILE] PAYLOAD.json",
		Short: "Sign a license payload with a vendor key",
		Long: `Check a license payload (JSON, see docs/licenses.md) and sign its exact bytes
with a vendor key. The armoured license goes to stdout, or to --out.

The key ID is the one in the key file unless --key-id says otherwise; it
must be the ID masters know the key's public half by.`,
		Args: oneArg("payload file"),
		RunE: a.action(func(_ context.Context, args []string) error {
			key, id, err := loadVendorKey(keyFile, keyID)
			if err != nil {
				return err
			}
			payload, err := readSmallFile(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			text, err := license.Seal(payload, key, id)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			p, err := license.ParsePayload(payload)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if out == "" {
				if _, err := a.stdout.Write(text); err != nil {
					return err
				}
			} else if err := os.WriteFile(out, text, 0o644); err != nil {
				return fmt.Errorf("meshctl: %w", err)
			}
			ends := "never expires"
			if !p.ExpiresAt.IsZero() {
				ends = "expires " + p.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(a.stderr, "signed %s license %s for %s (%s), %s, with vendor key %s\n",
				p.Type, tableCell(string(p.ID)), tableCell(p.Customer.Name), tableCell(string(p.Product.SKU)), ends, id)
			return nil
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&keyFile, "key", "", "the vendor private key file (from meshctl vendor keygen)")
	fs.StringVar(&keyID, "key-id", "", "the key's ID (default: the one in the key file)")
	fs.StringVar(&out, "out", "", "write the license to this file instead of stdout")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

// loadVendorKey reads a vendor private key and settles its key ID: the
// flag's, the file's, and they must agree if both are given, since a
// license signed under the wrong ID never verifies.
func loadVendorKey(path, flagID string) (ed25519.PrivateKey, license.KeyID, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, "", usagef("--key: %v", err)
	}
	fileID, key, err := license.ParsePrivateKey(b)
	if err != nil {
		return nil, "", usagef("--key %s: %v", path, err)
	}
	id := license.KeyID(flagID)
	switch {
	case id == "" && fileID == "":
		return nil, "", usagef("--key %s names no key ID; give --key-id", path)
	case id == "":
		id = fileID
	case fileID != "" && id != fileID:
		return nil, "", usagef("--key-id %s, but the key file %s is key %s", id, path, fileID)
	}
	if err := id.Validate(); err != nil {
		return nil, "", usagef("--key-id: %v", err)
	}
	return key, id, nil
}
