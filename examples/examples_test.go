// Package examples_test runs every example spec with the built sbx, as the
// README shows them.
package examples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var sbx string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sbx-examples-")
	if err != nil {
		panic(err)
	}
	sbx = filepath.Join(dir, "sbx")
	build := exec.Command("go", "build", "-o", sbx, "../cmd/sbx")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.Stderr.WriteString("building sbx: " + err.Error() + "\n")
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs `sbx run spec` and returns its stdout, failing the test on a
// non-zero exit.
func run(t *testing.T, spec string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(sbx, "run", spec)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sbx run %s: %v\nstdout:\n%s\nstderr:\n%s", spec, err, out.String(), errb.String())
	}
	return out.String()
}

func TestHello(t *testing.T) {
	out := run(t, "hello.json")
	want := "hello from sbx, uid 0; network interfaces: lo\n"
	if out != want {
		t.Errorf("sbx run hello.json printed %q, want %q", out, want)
	}
}

func TestBusyBox(t *testing.T) {
	build := exec.Command("../tests/busybox-rootfs.sh", "../bin/rootfs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("tests/busybox-rootfs.sh: %v\n%s", err, out)
	}
	out := run(t, "busybox.json")
	if !strings.HasPrefix(out, "hello from busybox\n") || !strings.Contains(out, "root:x:0:0:root:/root:/bin/sh") {
		t.Errorf("sbx run busybox.json printed %q, want the greeting, / and the rootfs's /etc/passwd", out)
	}
	if strings.Contains(out, "usr\n") {
		t.Errorf("sbx run busybox.json shows a /usr the rootfs does not have:\n%s", out)
	}
}

// TestCIGoTest runs this project's spec tests inside a sandbox with the
// network off and the checkout mounted read-only: the CI use case.
func TestCIGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles a package's tests in a fresh build cache")
	}
	gomod, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	if got := strings.TrimSpace(string(gomod)); got != "/root/go/pkg/mod" {
		t.Skipf("ci-go-test.json names root's module cache /root/go/pkg/mod; this user's is %s", got)
	}
	out := run(t, "ci-go-test.json")
	if !strings.Contains(out, "ok  \tsbx.dev/sbx/spec") {
		t.Errorf("sbx run ci-go-test.json printed %q, want an ok line for sbx.dev/sbx/spec", out)
	}
}
