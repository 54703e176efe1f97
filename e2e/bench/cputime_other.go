//go:build !linux

package bench

import (
	"errors"
	"time"
)

var errNoCPUTime = errors.New("bench: process CPU time is read on Linux only")

func processCPU(int) (time.Duration, error) { return 0, errNoCPUTime }

func selfCPU() (time.Duration, error) { return 0, errNoCPUTime }
