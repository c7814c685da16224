//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

func dieWithParent(*exec.Cmd) {}

// procCPU is not available here: CPU columns stay empty.
func procCPU(int) (time.Duration, error) { return 0, errors.New("per-process CPU needs Linux /proc") }
