//go:build !linux

package runtime

import (
	"fmt"
	goruntime "runtime"

	"sbx.dev/sbx/spawn"
)

// Run is not implemented on this platform yet.
func (sb *Sandbox) Run() (*Result, error) {
	return nil, &StartError{ExitFailed, fmt.Errorf("sandbox: %s: %w", goruntime.GOOS, spawn.ErrNotSupported)}
}
