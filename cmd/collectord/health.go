package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/licmesh/licmesh/collectors/config"
)

// localAPIHealth returns the check a freshly updated collector must pass
// besides its own: its local API answers /healthz wherever it listens, on
// the socket and on the TCP address. Nil when the local API is off.
func localAPIHealth(cfg config.Config) func(context.Context) error {
	var ts []target
	if cfg.Socket != "" {
		ts = append(ts, target{socket: cfg.Socket})
	}
	if cfg.Listen != "" {
		ts = append(ts, target{addr: cfg.Listen})
	}
	if len(ts) == 0 {
		return nil
	}
	return func(ctx context.Context) error {
		var errs []error
		for _, t := range ts {
			if _, err := localGet(ctx, t, "/healthz"); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t, err))
			}
		}
		return errors.Join(errs...)
	}
}
