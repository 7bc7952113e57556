package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal proxies between sbx's own stdin/stdout and the master of the
// pty the sandbox opened in its devpts, with sbx's terminal (when stdin is
// one) in raw mode meanwhile, so that the sandbox's line discipline is the
// only one.
type terminal struct {
	master  *os.File
	stdinFd int
	outer   *os.File // where the window size comes from
	saved   *term.State
	copied  chan struct{} // closed when the output copy ends
}

// openTerminal receives the master over console (one SCM_RIGHTS message,
// namespaces.Options.Console) and starts copying.
func openTerminal(console, stdin, stdout *os.File) (*terminal, error) {
	master, err := recvFd(console)
	if err != nil {
		return nil, fmt.Errorf("receiving the terminal: %w", err)
	}
	t := &terminal{master: master, stdinFd: -1, copied: make(chan struct{})}
	if stdin != nil && term.IsTerminal(int(stdin.Fd())) {
		t.stdinFd = int(stdin.Fd())
		if t.saved, err = term.MakeRaw(t.stdinFd); err != nil {
			master.Close()
			return nil, fmt.Errorf("making the terminal raw: %w", err)
		}
		t.outer = stdin
	} else if stdout != nil && term.IsTerminal(int(stdout.Fd())) {
		t.outer = stdout
	}
	t.resize()
	if stdin != nil {
		go io.Copy(master, stdin) // ends with sbx; a read of stdin cannot be interrupted
	}
	go func() {
		defer close(t.copied)
		if stdout != nil {
			io.Copy(stdout, master) // ends with EIO once every peer fd is closed
		}
	}()
	return t, nil
}

// resize copies sbx's window size to the sandbox's terminal; the kernel
// then sends SIGWINCH to its foreground process group.
func (t *terminal) resize() {
	if t.outer == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(t.outer.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// drain waits for the output the sandbox wrote before it ended. Every
// process of the sandbox is gone by now, so the copy ends promptly; the
// bound only guards against a peer fd held elsewhere.
func (t *terminal) drain() {
	select {
	case <-t.copied:
	case <-time.After(time.Second):
	}
}

// restore puts sbx's terminal back and closes the master; it runs once,
// from the sandbox's cleanup stack.
func (t *terminal) restore() {
	if t.saved != nil {
		term.Restore(t.stdinFd, t.saved)
	}
	t.master.Close()
}

// recvFd reads one message carrying exactly one fd.
func recvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, errors.New("no fd in the message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("%d fds in the message, want 1", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), "pty master"), nil
}
