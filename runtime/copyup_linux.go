package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// copyUp fills each tmpfs at dsts (namespaces.CopyUps) with what the image
// at rootPath has there, for the child pid paused with its mounts made:
// the tmpfs is reached through /proc/PID/root, where the child's new root
// is attached over rootPath, and the image through rootPath in sbx's own
// mount namespace, where nothing covers it. Both paths are resolved inside
// their root (RESOLVE_IN_ROOT), each entry is created relative to its
// parent's fd and never followed, and owners, modes and times are kept. A
// destination the image lacks leaves its tmpfs empty.
func copyUp(pid int, rootPath string, dsts []string) error {
	image, err := openDir(unix.AT_FDCWD, rootPath, 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: root.path: %w", err)
	}
	defer unix.Close(image)
	proc, err := openDir(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pid)+"/root", 0)
	if err != nil {
		return fmt.Errorf("tmpcopyup: %w", err)
	}
	defer unix.Close(proc)
	ctr, err := openDir(proc, strings.TrimPrefix(rootPath, "/"), unix.RESOLVE_NO_MAGICLINKS)
	if err != nil {
		return fmt.Errorf("tmpcopyup: the container's root: %w", err)
	}
	defer unix.Close(ctr)
	for _, d := range dsts {
		rel := strings.TrimPrefix(d, "/")
		src, err := openDir(image, rel, unix.RESOLVE_IN_ROOT)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("tmpcopyup %s: the image's: %w", d, err)
		}
		err = copyInto(src, ctr, rel)
		unix.Close(src)
		if err != nil {
			return fmt.Errorf("tmpcopyup %s: %w", d, err)
		}
	}
	return nil
}

// copyInto copies directory src's attributes and contents into the
// directory rel below root.
func copyInto(src, root int, rel string) error {
	dst, err := openDir(root, rel, unix.RESOLVE_IN_ROOT)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if err := copyTree(src, dst); err != nil {
		return err
	}
	return setAttrs(dst, "", &st)
}

// copyTree copies the entries of directory src into directory dst.
func copyTree(src, dst int) error {
	fd, err := unix.Dup(src)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(fd), "dir")
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(src, dst int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		d, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(d)
		if err := copyTree(s, d); err != nil {
			return err
		}
		return setAttrs(d, "", &st)
	case unix.S_IFREG:
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		in := os.NewFile(uintptr(s), name)
		defer in.Close()
		d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		out := os.NewFile(uintptr(d), name)
		defer out.Close()
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		return setAttrs(d, "", &st)
	case unix.S_IFLNK:
		target, err := readlinkat(src, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dst, name); err != nil {
			return err
		}
		return setAttrs(dst, name, &st)
	default: // a FIFO, socket or device node
		if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
		return setAttrs(dst, name, &st)
	}
}

// setAttrs gives the file (fd itself when name is "", else name in
// directory fd, not followed) st's owner, mode and times.
func setAttrs(fd int, name string, st *unix.Stat_t) error {
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	// Without privilege (rootless) only the caller's own ids can be
	// given: a copy of someone else's file stays the caller's, which is
	// the container's root.
	if err := unix.Fchownat(fd, name, int(st.Uid), int(st.Gid), flags); err != nil && (err != unix.EPERM || os.Geteuid() == 0) {
		return err
	}
	// After the chown, which clears setuid and setgid bits. A symlink
	// has no mode of its own; name is never one otherwise (this copy
	// made it, in a tmpfs no one else writes yet).
	switch {
	case name == "":
		if err := unix.Fchmod(fd, st.Mode&0o7777); err != nil {
			return err
		}
	case st.Mode&unix.S_IFMT != unix.S_IFLNK:
		if err := unix.Fchmodat(fd, name, st.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if name == "" {
		return unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), ts, 0)
	}
	return unix.UtimesNanoAt(fd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// openDir opens the directory path below dirfd, resolved as resolve says.
func openDir(dirfd int, path string, resolve uint64) (int, error) {
	if path == "" {
		path = "."
	}
	return unix.Openat2(dirfd, path, &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolve})
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
