package main

import (
	"context"
	"log/slog"

	"github.com/licmesh/licmesh/node/master"
)

func runSimulation(ctx context.Context, dc devConfig, dir string, masters []*master.Server, log *slog.Logger) error {
	<-ctx.Done()
	return ctx.Err()
}
