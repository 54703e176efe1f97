package usage

import "cmp"

// factsAgg folds a month's Facts samples: maxima for the high-water metrics
// and the latest sample for the point-in-time ones.
type factsAgg struct {
	have         bool
	fileLimitMax int64
	userCountMax int64
	caseCountMax int64
	latest       Facts
}

func raiseMax(p *int64, v int64) bool {
	if v > *p {
		*p = v
		return true
	}
	return false
}

// observe folds in one sample (its At already in UTC) and reports whether
// anything changed.
func (f *factsAgg) observe(x Facts) bool {
	if !f.have {
		*f = factsAgg{have: true, fileLimitMax: x.FileLimitMB, userCountMax: x.UserCount,
			caseCountMax: x.CaseCount, latest: x}
		return true
	}
	ch := raiseMax(&f.fileLimitMax, x.FileLimitMB)
	ch = raiseMax(&f.userCountMax, x.UserCount) || ch
	ch = raiseMax(&f.caseCountMax, x.CaseCount) || ch
	if compareFacts(x, f.latest) > 0 {
		f.latest = x
		ch = true
	}
	return ch
}

func (f *factsAgg) merge(o factsAgg) {
	if !o.have {
		return
	}
	if !f.have {
		*f = o
		return
	}
	raiseMax(&f.fileLimitMax, o.fileLimitMax)
	raiseMax(&f.userCountMax, o.userCountMax)
	raiseMax(&f.caseCountMax, o.caseCountMax)
	if compareFacts(o.latest, f.latest) > 0 {
		f.latest = o.latest
	}
}

// factsView is what of a factsAgg can reach the metrics.
type factsView struct {
	have                                     bool
	fileLimitMax, userCountMax, caseCountMax int64
	commItems, fields, userCount, caseCount  int64
}

func (f *factsAgg) view() factsView {
	v := factsView{have: f.have, fileLimitMax: f.fileLimitMax, userCountMax: f.userCountMax,
		caseCountMax: f.caseCountMax, userCount: f.latest.UserCount, caseCount: f.latest.CaseCount}
	if f.latest.CommissionModuleOn {
		v.commItems = f.latest.CommissionItems
	}
	if f.latest.ProcessModuleOn {
		v.fields = f.latest.ProcessFields - f.latest.ProcessFieldsInTrash
	}
	return v
}

// compareFacts orders samples by time; two different samples with the same
// time are ordered by their values, field by field, so "latest" never
// depends on arrival order.
func compareFacts(a, b Facts) int {
	return cmp.Or(
		a.At.Compare(b.At),
		cmp.Compare(a.FileLimitMB, b.FileLimitMB),
		cmpBool(a.CommissionModuleOn, b.CommissionModuleOn),
		cmp.Compare(a.CommissionItems, b.CommissionItems),
		cmpBool(a.ProcessModuleOn, b.ProcessModuleOn),
		cmp.Compare(a.ProcessFields, b.ProcessFields),
		cmp.Compare(a.ProcessFieldsInTrash, b.ProcessFieldsInTrash),
		cmp.Compare(a.UserCount, b.UserCount),
		cmp.Compare(a.CaseCount, b.CaseCount),
	)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}
