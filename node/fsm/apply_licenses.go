package fsm

import (
	"fmt"

	"github.com/licmesh/licmesh/licensing/license"
)

// applyAddLicense stores a license, judged at the command's time (trusted
// time or the command's Now, whichever is later). In order, it refuses:
//
//   - a license ID already stored (ErrLicenseExists);
//   - a license bound to another cluster (ErrLicenseCluster);
//   - a license past its grace (ErrLicenseNotInForce);
//   - a license a stored one replaces (ErrLicenseOutdated): the stored one
//     supersedes it, or is a later renewal of the same subscription, or is
//     of the same subscription and issued at the same time;
//   - a license whose subscription ID a stored license of another customer
//     holds (ErrLicenseConflict).
//
// Otherwise it replaces, in the same step, every stored license it
// replaces (license.Payload.Replaces: listed in supersedes, or an earlier
// license of the same subscription and customer), unless it is not yet
// valid, which would leave the replaced license's pools without seats
// until it starts (ErrLicenseNotInForce). A replacement drops no lease:
// pools keep their held leases, and a pool the new license grants fewer
// seats grants nothing new until releases bring it under. A license not
// yet valid that replaces nothing is stored and grants its pools from its
// not_before.
func applyAddLicense(s *state, ac *applyCtx, c *AddLicense) Response {
	l, err := parseLicense(c.Text)
	if err != nil {
		return Response{Err: fmt.Errorf("%w: add license: %w", ErrMalformed, err)}
	}
	if _, ok := s.licenses[l.ID]; ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrLicenseExists, l.ID)}
	}
	if l.ClusterID != "" && string(l.ClusterID) != s.cluster.ID {
		return Response{Err: fmt.Errorf("%w: license %s is bound to cluster %q, this is cluster %q", ErrLicenseCluster, l.ID, l.ClusterID, s.cluster.ID)}
	}
	st := standing(l, ac.at)
	if st.Phase == license.Expired {
		return Response{Err: fmt.Errorf("%w: %w: license %s ended %s, grace included; trusted time is %s",
			ErrLicenseNotInForce, license.ErrExpired, l.ID, stamp(st.GraceEnd), stamp(st.At))}
	}
	var replaced []license.LicenseID
	for _, id := range s.licenseIDs() {
		old := s.licenses[id].lic
		switch {
		case old.Replaces(&l.Payload):
			return Response{Err: fmt.Errorf("%w: stored license %s replaces %s", ErrLicenseOutdated, id, l.ID)}
		case l.Replaces(&old.Payload):
			replaced = append(replaced, id)
		case l.SubscriptionID != "" && l.SubscriptionID == old.SubscriptionID && l.Customer.ID != old.Customer.ID:
			return Response{Err: fmt.Errorf("%w: subscription %s is held by license %s of customer %s, not %s",
				ErrLicenseConflict, l.SubscriptionID, id, old.Customer.ID, l.Customer.ID)}
		case l.SubscriptionID != "" && l.SubscriptionID == old.SubscriptionID:
			return Response{Err: fmt.Errorf("%w: license %s of subscription %s was issued %s, not before %s issued %s",
				ErrLicenseOutdated, id, l.SubscriptionID, stamp(old.IssuedAt), l.ID, stamp(l.IssuedAt))}
		}
	}
	if len(replaced) > 0 && st.Phase == license.NotYetValid {
		return Response{Err: fmt.Errorf("%w: %w: license %s starts %s; replacing %s now would leave its pools without seats until then",
			ErrLicenseNotInForce, license.ErrNotYetValid, l.ID, stamp(l.NotBefore), replaced[0])}
	}
	for _, id := range replaced {
		delete(s.licenses, id)
	}
	s.licenses[l.ID] = &licenseRec{lic: l, addedAt: c.Now, replaced: replaced}
	s.sourcesChanged(ac.at)
	return Response{Replaced: replaced}
}

// applyRemoveLicense removes a license. Pools it alone granted disappear
// once their last lease ends; until then they grant nothing (SourceNone).
func applyRemoveLicense(s *state, ac *applyCtx, c *RemoveLicense) Response {
	if _, ok := s.licenses[c.ID]; !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownLicense, c.ID)}
	}
	delete(s.licenses, c.ID)
	s.sourcesChanged(ac.at)
	return Response{}
}
