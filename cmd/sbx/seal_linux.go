package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// sealedEnv marks a process that sealSelf has already re-executed, so it
// never loops; sbx removes it from its environment at once.
const sealedEnv = "_SBX_SEALED"

// sealSelf protects sbx's own binary from the processes it starts
// (CVE-2019-5736): a container whose program is "#!/proc/self/exe", or an
// exec'd process that catches sbx's child before its execve, reaches the
// binary that child runs through /proc/PID/exe, and could reopen it for
// writing once no sbx runs. So before a verb that starts a process, sbx
// re-executes itself from a view of its binary that cannot be written: a
// read-only detached bind of the file (open_tree, mount_setattr), whose
// /proc/PID/exe then refuses writes with EROFS; without the privilege for
// that, a sealed memfd copy, when the binary is writable by the caller at
// all. It returns only when nothing needed doing or re-executing failed.
func sealSelf(args []string) error {
	if os.Getenv(sealedEnv) != "" {
		os.Unsetenv(sealedEnv)
		return nil
	}
	if !slices.ContainsFunc(args[1:], func(a string) bool { return a == "run" || a == "create" || a == "exec" }) {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/proc/self/exe", &st); err == nil && st.Flags&unix.ST_RDONLY != 0 {
		return nil // installed on a read-only mount: nothing to protect
	}
	fd, err := readOnlySelf()
	if err != nil {
		if unix.Access("/proc/self/exe", unix.W_OK) != nil {
			return nil // not writable by us, nor so by what we start
		}
		if fd, err = memfdSelf(); err != nil {
			return err
		}
	}
	env := append(os.Environ(), sealedEnv+"=1")
	err = unix.Exec(fmt.Sprintf("/proc/self/fd/%d", fd), args, env)
	unix.Close(fd)
	return fmt.Errorf("re-executing sbx from a read-only copy of itself: %w", err)
}

// readOnlySelf is a read-only detached bind mount of sbx's binary.
func readOnlySelf() (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// memfdSelf is a sealed in-memory copy of sbx's binary.
func memfdSelf() (int, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return -1, err
	}
	defer self.Close()
	fd, err := unix.MemfdCreate("sbx", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, err
	}
	f := os.NewFile(uintptr(fd), "sbx")
	if _, err := io.Copy(f, self); err != nil {
		f.Close()
		return -1, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return -1, err
	}
	nfd, err := unix.Dup(int(f.Fd()))
	f.Close()
	return nfd, err
}

func setNotDumpable(on bool) error {
	if !on {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
