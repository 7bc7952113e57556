package runtime

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// withHome is env with HOME added when it has none, as runc adds it: the
// home directory of uid in the /etc/passwd below root (a directory whose
// /etc/passwd is read as the container sees it, never through a symlink
// out of it), or "/" when there is no such entry. containerd's CRI, and
// so Kubernetes, rely on the runtime for it.
func withHome(env []string, root string, uid uint32) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "HOME="+homeOf(root, uid))
}

// homeOf reads uid's home directory from root's /etc/passwd; "/" when it
// cannot.
func homeOf(root string, uid uint32) string {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/"
	}
	defer unix.Close(dir)
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(dir, "etc/passwd", how)
	if err != nil {
		return "/"
	}
	f := os.NewFile(uintptr(fd), "etc/passwd")
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "/" // a FIFO or a device there must not block or feed create
	}
	want := strconv.FormatUint(uint64(uid), 10)
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 6 && fields[2] == want && strings.HasPrefix(fields[5], "/") {
			return fields[5]
		}
	}
	return "/"
}
