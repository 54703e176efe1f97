package meter

import (
	"errors"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/spool"
)

// batchFaultCodes are the refusals that blame the batch itself: a record
// the masters will never take (InvalidArgument: a time more than a day
// ahead of the master's clock, a negative count...) or a request over a
// size limit (ResourceExhausted). Every master would refuse the same
// batch again, so retrying it as it is can never succeed; a smaller one
// can. Any other refusal (a collector not enrolled, unknown, ...) says
// nothing about the records and is retried with backoff.
var batchFaultCodes = map[connect.Code]bool{
	connect.CodeInvalidArgument:   true,
	connect.CodeResourceExhausted: true,
}

// batchFault returns the reason when err blames the batch (see
// batchFaultCodes): a master's refusal, through the agent
// (*agent.RejectedError) or from a Connect client used directly, or the
// client's own message size limit, which the agent reports among the
// masters it could not reach.
func batchFault(err error) (reason string, ok bool) {
	var rej *agent.RejectedError
	if errors.As(err, &rej) {
		return rej.Code.String() + ": " + rej.Message, batchFaultCodes[rej.Code]
	}
	var found string
	walkErrors(err, func(e error) bool {
		ce, isConnect := e.(*connect.Error)
		switch {
		case !isConnect:
			return false
		case connect.IsWireError(ce) && batchFaultCodes[ce.Code()]:
			found = ce.Code().String() + ": " + ce.Message()
		case !connect.IsWireError(ce) && ce.Code() == connect.CodeResourceExhausted:
			found = "the request is over the client's message size limit: " + ce.Message()
		default:
			return false
		}
		return true
	})
	return found, found != ""
}

// walkErrors calls visit on err and everything it wraps, depth first, until
// visit returns true. The agent joins the errors of every master it tried,
// so a plain errors.As would see only the first.
func walkErrors(err error, visit func(error) bool) bool {
	if err == nil {
		return false
	}
	if visit(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walkErrors(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if walkErrors(e, visit) {
				return true
			}
		}
	}
	return false
}

// bisect narrows a refused batch down to the records the masters refuse:
// the batch is sent in halves, halves of a refused half, and so on, each
// half that passes being acknowledged as usual, until one record alone is
// refused and skipped. Once the mark passes the refused range, batches are
// whole again. k bad records among n cost about k*2*log2(n) reports.
type bisect struct {
	full  int    // Config.BatchMaxRecords
	limit int    // records per batch while narrowing; 0 when not
	end   uint64 // last seq of the smallest batch refused; 0 when not narrowing
}

// size is how many records the next batch may hold.
func (b *bisect) size() int {
	if b.limit > 0 {
		return b.limit
	}
	return b.full
}

// active says whether a refused range is being narrowed.
func (b *bisect) active() bool { return b.end != 0 }

// refused narrows to the first half of recs, a batch of several records
// that was refused.
func (b *bisect) refused(recs []spool.Record) {
	b.limit, b.end = max(1, len(recs)/2), recs[len(recs)-1].Seq
}

// passed notes that the spool's mark moved to acked: past the refused
// range, the next batch is whole again.
func (b *bisect) passed(acked uint64) {
	if acked >= b.end {
		b.limit, b.end = 0, 0
	}
}
