package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every terminal the tests open has this size, which the container's
// terminal must report (`stty size`).
const termRows, termCols = 37, 101

// session is a client command the test watches as it runs: its output
// comes through a pipe, or through a pseudo-terminal that is its
// controlling terminal, as in an interactive shell.
type session struct {
	cmd  *exec.Cmd
	r    *os.File // the pipe's read end or the terminal's master
	mu   sync.Mutex
	out  strings.Builder // everything read from r
	read chan struct{}   // closed when r reads EOF or EIO
	done chan struct{}   // closed when cmd has exited
	code int
}

// startTerminal starts cmd on a new pseudo-terminal and kills it when t
// ends.
func startTerminal(t *testing.T, cmd *exec.Cmd) *session {
	t.Helper()
	master, slave := openPTY(t)
	cmd.Stdin = slave
	cmd.SysProcAttr.Setpgid = false // a session leader cannot change its group
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	return start(t, cmd, master, slave)
}

// startPiped starts cmd with its stdout and stderr on a pipe and kills it
// when t ends.
func startPiped(t *testing.T, cmd *exec.Cmd) *session {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return start(t, cmd, r, w)
}

// start starts cmd writing to w, which it closes, and reads r.
func start(t *testing.T, cmd *exec.Cmd, r, w *os.File) *session {
	t.Helper()
	defer w.Close()
	s := &session{cmd: cmd, r: r, read: make(chan struct{}), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		t.Fatalf("starting %s: %v", shellQuote(cmd.Args), err)
	}
	go s.copyOut()
	go func() {
		s.code = exitCode(cmd.Wait(), cmd)
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Cancel()
		<-s.done
		r.Close()
		<-s.read
	})
	return s
}

func (s *session) copyOut() {
	defer close(s.read)
	buf := make([]byte, 4096)
	for {
		n, err := s.r.Read(buf)
		s.mu.Lock()
		s.out.Write(buf[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// output is what the command has written so far, without the carriage
// returns a terminal adds and the NUL bytes ctr's terminals show once the
// client has set the size.
func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.NewReplacer("\r", "", "\x00", "").Replace(s.out.String())
}

// waitFor waits up to 30s for the command to write want after the first
// from bytes of its output.
func (s *session) waitFor(t *testing.T, from int, want string) {
	t.Helper()
	found := func() bool {
		out := s.output()
		return len(out) >= from && strings.Contains(out[from:], want)
	}
	timeout := time.After(30 * time.Second)
	for !found() {
		select {
		case <-s.read: // no one can write any more
			if found() {
				return
			}
			code, out := s.wait(t, 5*time.Second)
			t.Fatalf("%s exited %d without writing %q; its output:\n%s", shellQuote(s.cmd.Args), code, want, indent(out))
		case <-timeout:
			t.Fatalf("%s did not write %q within 30s; its output:\n%s", shellQuote(s.cmd.Args), want, indent(s.output()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// typeLine types line and Enter on the terminal.
func (s *session) typeLine(t *testing.T, line string) {
	t.Helper()
	if _, err := s.r.WriteString(line + "\r"); err != nil {
		t.Fatalf("typing %q: %v", line, err)
	}
}

// wait waits up to timeout for the command to exit and returns its status
// and all its output.
func (s *session) wait(t *testing.T, timeout time.Duration) (int, string) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.cmd.Cancel()
		<-s.done
		t.Fatalf("%s did not exit within %v; its output:\n%s", shellQuote(s.cmd.Args), timeout, indent(s.output()))
	}
	// Others (a shim, conmon, the container) may hold the pipe or the
	// terminal after the client's exit; what they write later is lost.
	select {
	case <-s.read:
	case <-time.After(time.Second):
	}
	return s.code, s.output()
}

// ttyScript is a shell command line that prints the terminal's name and
// size and the product 6*7, then exits code. The client sets the size after
// the process starts, so the script waits up to 2s for it (BusyBox's `stty
// size` prints nothing and exits 0 until then).
func ttyScript(code int) string {
	return fmt.Sprintf(`tty; for i in $(seq 100); do s=$(stty size 2>&1); [ "${s#[1-9]}" != "$s" ] && break; usleep 20000; done; echo $s; echo $((6*7)); exit %d`, code)
}

// consoleCheck, typed before ttyScript into a container's first process,
// prints whether /dev/console is a character device: with a terminal, the
// runtime-spec wants the terminal there.
const consoleCheck = `[ -c /dev/console ] && echo console-is-a-device; `

// checkConsole checks what consoleCheck printed.
func checkConsole(t *testing.T, what string, out string) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^console-is-a-device\r?$`).MatchString(out) {
		t.Errorf("%s: /dev/console is not a character device: %q", what, out)
	}
}

// checkTerminal checks what ttyScript printed and how it exited.
func checkTerminal(t *testing.T, what string, code, wantCode int, out string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: exit status = %d, want %d\nterminal output: %q", what, code, wantCode, out)
	}
	for _, re := range []string{`(?m)^/dev/pts/[0-9]+$`, fmt.Sprintf(`(?m)^%d %d$`, termRows, termCols), `(?m)^42$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("%s: the terminal output has no line matching %s: %q", what, re, out)
		}
	}
}

// openPTY opens a pseudo-terminal pair of termRows×termCols with the raw
// ioctls of pty(7).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("the host has no pseudo-terminals: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("TIOCGPTN: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("opening the pty's slave: %v", err)
	}
	ws := &unix.Winsize{Row: termRows, Col: termCols}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		m.Close()
		s.Close()
		t.Fatalf("TIOCSWINSZ: %v", err)
	}
	return m, s
}
