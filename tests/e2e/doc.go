// Package e2e runs real container engines, containerd and podman from
// Debian's packages, with the OCI runtime under test in place of runc.
//
// The runtime is $SBX_E2E_RUNTIME, or else sbx built from the repository's
// source for the test (never a bin/sbx, which may be stale). Each
// test installs what it lacks with apt-get, imports a one-layer OCI image
// of the BusyBox root of tests/busybox-rootfs.sh, drives the engine's
// command-line client (ctr, podman), and removes everything it made, even
// when it fails. The engines keep their state in the test's temporary
// directories and run in a mount namespace of the test's, with a tmpfs on
// the host paths they write whatever their configuration says
// (/run/containerd/s and /run/containerd/runc for containerd's shims;
// /run/containers, /var/lib/containers/cache, /var/tmp and /dev/shm for
// podman).
//
// The clients reach the runtime through a shell script that records each
// call's arguments, then execs the runtime; a failing test lists the calls
// it made, and with $SBX_E2E_ARGV_LOG set every call of every test is
// appended to that file.
//
// The tests need root and skip without it.
//
//	SBX_E2E_RUNTIME=$(command -v runc) go test -count=1 -v ./tests/e2e
//
// The package has no non-test code.
package e2e
