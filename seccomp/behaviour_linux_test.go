package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// requireSeccomp skips on kernels without seccomp filters.
func requireSeccomp(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/sys/kernel/seccomp/actions_avail"); err != nil {
		t.Skipf("kernel without seccomp filter support: %v", err)
	}
}

// helper runs the test binary in helper mode and returns its exit error
// and the errno of every probe.
func helper(t *testing.T, mode string) (map[string]int, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		t.Logf("helper %s stderr:\n%s", mode, stderr.Bytes())
	}
	if err != nil {
		return nil, err
	}
	results := map[string]int{}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("helper %s output %q: %v", mode, out, err)
	}
	return results, nil
}

func mustHelper(t *testing.T, mode string) map[string]int {
	t.Helper()
	results, err := helper(t, mode)
	if err != nil {
		t.Fatalf("helper %s: %v", mode, err)
	}
	return results
}

func errnoName(e int) string {
	if e == 0 {
		return "success"
	}
	return unix.ErrnoName(syscall.Errno(e)) + " (" + syscall.Errno(e).Error() + ")"
}

func TestDefaultProfileBehaviour(t *testing.T) {
	requireSeccomp(t)
	eperm, enosys, enotty := int(unix.EPERM), int(unix.ENOSYS), int(unix.ENOTTY)
	want := map[string]int{
		"keyctl": eperm, "add_key": eperm, "request_key": eperm, "bpf": eperm,
		"perf_event_open": eperm, "userfaultfd": eperm, "io_uring_setup": eperm,
		"kexec_load": eperm, "init_module": eperm, "finit_module": eperm,
		"mount": eperm, "umount2": eperm, "pivot_root": eperm, "fsopen": eperm,
		"open_tree": eperm, "swapon": eperm, "reboot": eperm, "acct": eperm,
		"clock_settime": eperm, "adjtimex": eperm, "ptrace": eperm,
		"process_vm_readv": eperm, "unshare(CLONE_NEWUSER)": eperm,
		"setns": eperm, "clone(CLONE_NEWUSER)": eperm, "ioctl(TIOCSTI)": eperm,
		"ioctl(TIOCSTI|1<<32)": eperm, "ioctl(TIOCLINUX)": eperm,
		"socket(AF_PACKET)": eperm, "personality(ADDR_NO_RANDOMIZE)": eperm,
		"clone3": enosys,
		"getpid": 0, "unshare(0)": 0, "personality(query)": 0,
		"ioctl(TIOCGWINSZ)": enotty, "socket(AF_UNIX)": 0, "socket(AF_INET)": 0,
		"socket(AF_INET6)": 0, "socket(AF_NETLINK)": 0, "exec /bin/true": 0,
		"exec /bin/sh": 0,
	}
	unconfined := mustHelper(t, "unconfined")
	for name, w := range want {
		base := unconfined[name]
		switch {
		case w == 0 || w == enotty:
			if base != w {
				t.Errorf("%s unconfined = %s, want %s as under Default()", name, errnoName(base), errnoName(w))
			}
		case base == w:
			// The probe cannot tell the filter from the kernel here.
			t.Logf("%s fails with %s even without a filter on this host", name, errnoName(base))
		}
	}
	// "default" installs the precompiled DefaultFilter(), "compiled-default"
	// what libseccomp compiles from Default() here.
	for _, mode := range []string{"default", "compiled-default"} {
		t.Run(mode, func(t *testing.T) {
			confined := mustHelper(t, mode)
			for name, w := range want {
				if got, ok := confined[name]; !ok {
					t.Errorf("probe %s did not run", name)
				} else if got != w {
					t.Errorf("%s under %s = %s, want %s", name, mode, errnoName(got), errnoName(w))
				}
			}
			if len(confined) != len(want) {
				t.Errorf("helper ran %d probes, want %d", len(confined), len(want))
			}
		})
	}
}

func TestCustomProfileBehaviour(t *testing.T) {
	requireSeccomp(t)
	want := map[string]int{
		"fchmod(04755)":                          int(unix.EXDEV),
		"fchmod(0644)":                           0,
		"fchown(4242)":                           int(unix.EDOM),
		"fchown(4343)":                           int(unix.EDOM),
		"fchown(-1)":                             0,
		"getpriority(PRIO_PROCESS, nonexistent)": int(unix.ENOTTY),
		"getpriority(PRIO_PGRP, nonexistent)":    int(unix.ESRCH),
		"getpriority(PRIO_PROCESS, self)":        0,
	}
	got := mustHelper(t, "custom")
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s under customProfile() = %s (ran: %v), want %s", name, errnoName(g), ok, errnoName(w))
		}
	}
}

func TestActionsBehaviour(t *testing.T) {
	requireSeccomp(t)
	want := map[string]int{
		"getppid":             int(unix.ENOSYS), // SCMP_ACT_TRACE without a tracer (seccomp(2))
		"getpgid(0)":          0,                // SCMP_ACT_LOG runs the call
		"getsid(nonexistent)": 0,                // errnoRet 0: not run, "succeeds"
		"fchdir(-1)":          maxErrno,
		"sched_yield":         int(unix.EXDEV),
	}
	got := mustHelper(t, "actions")
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s under actionsProfile() = %s (ran: %v), want %s", name, errnoName(g), ok, errnoName(w))
		}
	}
}

func TestKillProcessAction(t *testing.T) {
	requireSeccomp(t)
	_, err := helper(t, "kill")
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper kill error = %v, want death by SIGSYS", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Errorf("helper kill status = %v, want killed by SIGSYS", ee)
	}
}

// TestDefaultProfileRunsPrograms runs ordinary programs under
// DefaultFilter().
func TestDefaultProfileRunsPrograms(t *testing.T) {
	requireSeccomp(t)
	dir := t.TempDir()
	hello := map[string]string{
		"hello.c":          "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
		"gohello/hello.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
		"gohello/go.mod":   "module hello\n\ngo 1.22\n",
		"gohello/hello_test.go": "package main\n\nimport (\"os\"; \"testing\")\n\n" +
			"func TestHello(t *testing.T) { if _, err := os.Stat(\"/\"); err != nil { t.Fatal(err) } }\n",
		"hello.py": "import os, socket, subprocess, threading, tempfile\n" +
			"t = threading.Thread(target=lambda: None); t.start(); t.join()\n" +
			"socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()\n" +
			"with tempfile.TemporaryDirectory() as d: os.rename(d + '', d + '')\n" +
			"print(subprocess.run(['/bin/echo', 'hello'], capture_output=True, text=True).stdout.strip())\n",
	}
	for name, content := range hello {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
	}{
		{"sh", []string{"sh", "-c", "cd " + dir + " && ls -la >/dev/null && (sleep 0.01 &) && wait && echo hello | cat"}},
		{"busybox", []string{"busybox", "sh", "-c", "busybox ls / >/dev/null && busybox ps >/dev/null; echo hello"}},
		{"python3", []string{"python3", dir + "/hello.py"}},
		{"cc", []string{"sh", "-c", "cd " + dir + " && cc -o hello-c hello.c && ./hello-c"}},
		{"go", []string{"sh", "-c", "cd " + dir + "/gohello && go vet . && go test -count=1 . && go run hello.go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := exec.LookPath(tt.args[0])
			if err != nil {
				t.Skipf("%s not installed: %v", tt.args[0], err)
			}
			args, _ := json.Marshal(append([]string{path}, tt.args[1:]...))
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=exec", helperArgsEnv+"="+string(args))
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.HasSuffix(bytes.TrimSpace(out), []byte("hello")) {
				t.Errorf("%s under Default() = %v, output:\n%s\nwant success ending in hello", tt.name, err, out)
			}
		})
	}
}
