//go:build tools

// Package runtimetest pins the build of runtime-tools' runtimetest, the
// program the validation programs run inside the container, to Go 1.18.
// From Go 1.19 on, every Go program raises its own soft RLIMIT_NOFILE to
// the hard limit minus one at start-up (os/rlimit.go), so a runtimetest
// built by a newer Go reports the limit it set itself, not the one the
// runtime gave it, and process_rlimits fails for every runtime.
package runtimetest

import _ "github.com/opencontainers/runtime-tools/cmd/runtimetest"
