package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Apply commits data through Raft and returns the FSM's response (which may
// itself be an error value: that is the FSM's business). It must run on the
// leader; on a follower it returns ErrNotLeader without side effects.
func (n *Node) Apply(ctx context.Context, data []byte) (any, error) {
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	timeout, err := timeoutFrom(ctx)
	if err != nil {
		return nil, err
	}
	f := n.raft.Apply(data, timeout)
	if err := waitFuture(ctx, f); err != nil {
		return nil, err
	}
	return f.Response(), nil
}

// timeoutFrom turns ctx's deadline into the enqueue timeout raft takes.
func timeoutFrom(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return 0, context.DeadlineExceeded
	}
	return d, nil
}

// waitFuture waits for f or ctx. When ctx wins, the helper goroutine still
// ends: raft resolves every future, at the latest when it shuts down.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return mapRaftErr(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Nothing was appended: safe to retry on the leader.
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %w", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrShutdown, err)
	default:
		return fmt.Errorf("cluster: raft: %w", err)
	}
}
