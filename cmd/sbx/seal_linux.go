package main

// #cgo CFLAGS: -O2 -Wall
import "C"

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Protecting sbx's binary from the processes it starts (CVE-2019-5736): a
// container whose program is "#!/proc/self/exe", or an exec'd process that
// catches sbx's child before its execve, reaches the binary that child runs
// through /proc/PID/exe, and could reopen it for writing once no sbx runs.
// So before a verb that starts a process in a container (run, create,
// exec, and start, whose startContainer hooks run there), a C
// constructor in seal_linux.c, which runs before the Go runtime starts (a
// second start costs a dynamic link, not a second Go start-up), re-executes
// sbx from a view of its binary that cannot be written: a read-only
// detached bind of the file (open_tree, mount_setattr), whose
// /proc/PID/exe refuses writes with EROFS; without the privilege for that,
// a sealed memfd copy, when the binary is writable by the caller at all.
// Installed on a read-only mount, sbx skips it; the re-executed sbx knows
// itself by the same test (its binary is on a read-only mount, or a memfd
// sealed against writes), so no marker in the environment can switch the
// protection off.

// setNotDumpable makes sbx's memory unreadable and untraceable to the
// processes it starts.
func setNotDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
