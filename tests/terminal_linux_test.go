package tests

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTerminal: with process.terminal, the child's stdio is a terminal of
// the sandbox's own devpts, not the one sbx runs on (which a child could
// otherwise push input into with TIOCSTI).
func testTerminal(t *testing.T, r *runner) {
	master, slave := openPTY(t)
	var st unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	hostDev := st.Dev
	s := hostRootSpec()
	s.Process.Args = []string{"/bin/sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; test -t 1 && echo stdout-is-a-tty; echo stdin-dev=$(stat -L -c %d /proc/self/fd/0); exit 5"}
	s.Process.Terminal = true
	path, text := r.writeSpec(t, s, call{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := r.command(ctx, path, call{}, "")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sbx on a pty: %v", err)
	}
	slave.Close()
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once no one holds the pty
		out <- strings.ReplaceAll(string(b), "\r\n", "\n")
	}()
	code := exitCodeOf(cmd.Wait(), cmd)
	var output string
	select {
	case output = <-out:
	case <-time.After(5 * time.Second):
		master.Close()
		output = <-out
	}
	if ctx.Err() != nil {
		t.Fatalf("sbx on a pty did not return within 30s\nterminal output: %q\nspec: %s", output, text)
	}
	if code != 5 {
		t.Errorf("exit status = %d, want 5\nterminal output: %q\nspec: %s", code, output, text)
	}
	if !regexp.MustCompile(`(?m)^/dev/pts/[0-9]+$`).MatchString(output) {
		t.Errorf("`tty` in the sandbox did not print /dev/pts/N\nterminal output: %q", output)
	}
	if host := fmt.Sprintf("stdin-dev=%d\n", hostDev); strings.Contains(output, host) {
		t.Errorf("the child's terminal is on the devpts sbx runs on (%s), not its own\nterminal output: %q", strings.TrimSpace(host), output)
	}
	for _, want := range []string{"stdin-is-a-tty", "stdout-is-a-tty", "stdin-dev="} {
		if !strings.Contains(output, want) {
			t.Errorf("terminal output lacks %q: %q", want, output)
		}
	}
}

// openPTY opens a pseudo-terminal pair with the raw ioctls of pty(7).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("the host has no pseudo-terminals: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty's slave: %v", err)
	}
	unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100})
	t.Cleanup(func() {
		m.Close()
		s.Close()
	})
	return m, s
}
