package main

import (
	"fmt"
	"syscall"
)

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER, <linux/prctl.h>

// becomeSubreaper makes the processes that our children orphan ours, as a
// container shim does: a container that `create` started is then our child.
func becomeSubreaper() error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	return nil
}

// waitChild waits for the process pid, which must be our child or an
// orphan reparented to us, and returns its exit status (128+signal when
// killed).
func waitChild(pid int) (int, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for container process %d: %w", pid, err)
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
}

// reapOrphans collects orphans reparented to us (as a subreaper) that
// nobody waits for. It runs between iterations, when no command of ours is
// running, so that it cannot take an exit status that os/exec waits for.
func reapOrphans() {
	var ws syscall.WaitStatus
	for {
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
