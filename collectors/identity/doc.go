// Package identity keeps what enrollment gives a collector, in its data
// directory: the private key (key.pem, 0600), the client certificate
// (cert.pem), the cluster CA (ca.pem), the cluster's lease signing key
// (signing.pub), the collector and cluster IDs (identity.json) and the last
// masters list learned (masters.json). The directory is created 0700; an
// existing one that others can write to is refused.
//
// Every file is written atomically (temporary file, fsync, rename, fsync of
// the directory), and identity.json is written last, so a crash during
// enrollment leaves either no identity or a whole one. A certificate renewal
// writes the new key as next-key.pem before the certificate and renames it
// into place after; Load finishes or undoes a renewal a crash interrupted.
package identity
