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
// vm_linux_test.go boots Debian 12's kernel in qemu with a pure cgroup v2
// hierarchy, which this hybrid host lacks, and runs vm/checks.sh there: a
// static sbx's sandbox limits and an OCI container's lifecycle, checked
// from the VM's side.
//
//	go test ./tests/ -run TestPureCgroupV2 -v
//
// The package has no non-test code.
package tests
