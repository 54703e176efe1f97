// Package release is signed releases: the vendor's TUF repository and the
// sites' verifier.
//
// The vendor hub publishes meshd and collectord binaries as TUF targets
// (https://theupdateframework.io). Repo is the vendor side: it holds the
// repository's root, targets, snapshot and timestamp metadata and signs new
// versions of them with Keys when a release is published, withdrawn,
// removed, moved between channels, or when the metadata is about to expire
// (Refresh). Each artifact's target carries signed custom fields (version,
// component, OS, architecture, channel, release time, withdrawal), so a
// site learns everything it acts on from signed data.
//
// Verify is the site side. It runs the TUF client workflow of go-tuf's
// trustedmetadata against the Trust a site persisted from its last
// verification: first the root rotation chain, then the previously trusted
// timestamp and snapshot (loaded even when expired, because they are what
// makes a rollback of the timestamp, snapshot or targets versions
// detectable), then the new metadata. Validity is judged at a time the
// caller passes in, the site's trusted time, never the local clock, so a
// clock set back cannot revive frozen metadata. VerifyArtifact then checks
// a downloaded binary against the verified length and SHA-256.
//
// Bundles carry the same metadata and artifacts to sites without a network
// path to the hub: WriteBundle writes a tar stream, ReadBundle reads it
// (plain or gzip) and spools the artifacts to disk, leaving every trust
// decision to Verify and VerifyArtifact.
//
// Every refusal wraps one sentinel from errors.go with a detail naming the
// metadata file or artifact at fault; none contains private key material.
package release
