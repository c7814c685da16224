//go:build !linux

package child

import (
	"errors"
	"os/exec"
	"time"
)

func dieWithParent(*exec.Cmd) {}

// CPU is not available here: it needs Linux's /proc.
func CPU(int) (time.Duration, error) { return 0, errors.New("per-process CPU needs Linux /proc") }
