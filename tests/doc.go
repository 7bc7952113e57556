// Package tests holds black-box tests of the built sbx binary.
//
// The sandbox battery (sandbox_linux_test.go) builds bin/sbx and a static
// probe (./probe) into a temporary directory, runs `sbx run spec.json` with
// specs that exercise each isolation property, and compares what the probe
// reports from inside with the host's own values. As root it then runs the
// battery again as an unprivileged system user (sbxtest, created when
// missing), where cgroup limits without delegation must be refused with exit
// status 125, never silently dropped.
//
//	go test ./tests/ -run 'TestSandbox|TestBadInput' -v
//
// The package has no non-test code.
package tests
