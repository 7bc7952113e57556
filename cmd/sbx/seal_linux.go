package main

// #cgo CFLAGS: -O2 -Wall
// int sbx_sealed_self(void);
import "C"

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Protecting sbx's binary from the processes it starts (CVE-2019-5736): a
// container whose program is "#!/proc/self/exe", or an exec'd process that
// catches sbx's child before its execve, reaches the binary that child runs
// through /proc/PID/exe, and could reopen it for writing once no sbx runs.
// So before a verb that starts a process in a container (run, create and
// exec), a C constructor in seal_linux.c, which runs before the Go runtime
// starts (a second start costs an exec, not a second Go start-up),
// re-executes sbx from a view of its binary that cannot be written: a read-only
// detached bind of the file (open_tree, mount_setattr), whose
// /proc/PID/exe refuses writes with EROFS; without the privilege for that,
// a sealed memfd copy, when the binary is writable by the caller at all.
// Installed on a read-only mount, sbx skips it; the re-executed sbx knows
// itself by the same test (its binary is on a read-only mount, or a memfd
// sealed against writes), so no marker in the environment can switch the
// protection off. start does it too, from Go (reexecSealed), when the
// container has startContainer hooks, which run in it: what it reads to know
// is not at hand before the Go runtime starts, and most containers have
// none (an exec, about 3 ms here, saved on each of their starts).

// reexecSealed re-executes sbx, with its arguments and environment, from a
// view of its binary that cannot be written, as the constructor does; it
// returns nil without doing so when sbx runs from one already, or its
// binary is not writable at all. sbx's files are close-on-exec: a lock it
// holds is let go, and the new sbx takes it again.
func reexecSealed() error {
	fd, err := C.sbx_sealed_self()
	if fd < 0 {
		if err != nil {
			return fmt.Errorf("cannot make a read-only copy of sbx's binary to re-execute from: %w", err)
		}
		return nil
	}
	err = unix.Exec("/proc/self/fd/"+strconv.Itoa(int(fd)), os.Args, os.Environ())
	unix.Close(int(fd))
	return fmt.Errorf("cannot re-execute from a read-only copy of sbx's binary: %w", err)
}

// setNotDumpable makes sbx's memory unreadable and untraceable to the
// processes it starts.
func setNotDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
