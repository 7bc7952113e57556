package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// mount is one mounted cgroup hierarchy.
type mount struct {
	point string // where it is mounted: /sys/fs/cgroup/memory
	// root is the cgroup mounted there: "/" unless this process sees
	// only a subtree, as in a container (proc(5), mountinfo field 4).
	root string
}

// dir is the directory of cgroup path p (as /proc/PID/cgroup shows it)
// under m; false when p is outside what m shows.
func (m mount) dir(p string) (string, bool) {
	rel, ok := below(m.root, p)
	if !ok {
		return "", false
	}
	return filepath.Join(m.point, rel), true
}

// below returns p relative to root when p is root or under it.
func below(root, p string) (string, bool) {
	if root == "/" {
		return p, strings.HasPrefix(p, "/")
	}
	if p == root {
		return "/", true
	}
	rest, ok := strings.CutPrefix(p, root+"/")
	return "/" + rest, ok
}

// mountTable is the cgroup mounts this process sees.
type mountTable struct {
	// v1 maps each v1 controller, by the name /proc/PID/cgroup gives it
	// ("memory", "name=systemd"), to the first mount of its hierarchy.
	v1 map[string]mount
	// v2 are the cgroup2 mounts, by mount point.
	v2 map[string]mount
}

const procSelfMountinfo = "/proc/self/mountinfo"

// mounts reads /proc/self/mountinfo once per process: cgroup hierarchies
// are mounted at boot, and reading it for every controller is what made
// cgroup1.New slow on hosts with many mounts.
var mounts = sync.OnceValues(func() (*mountTable, error) {
	f, err := os.Open(procSelfMountinfo)
	if err != nil {
		return nil, opError("reading", procSelfMountinfo, err)
	}
	defer f.Close()
	t, err := parseMountinfo(f)
	if err != nil {
		return nil, opError("reading", procSelfMountinfo, err)
	}
	return t, nil
})

// parseMountinfo keeps the cgroup and cgroup2 lines of a mountinfo file
// (proc(5)): ID parent major:minor root point options [optional...] -
// type source super-options. A v1 hierarchy's controllers are among its
// super-options; the others (rw, xattr, …) are kept too, harmlessly, as
// no controller is named like them.
func parseMountinfo(r io.Reader) (*mountTable, error) {
	t := &mountTable{v1: map[string]mount{}, v2: map[string]mount{}}
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		before, after, ok := strings.Cut(s.Text(), " - ")
		f, g := strings.Fields(before), strings.Fields(after)
		if !ok || len(f) < 5 || len(g) < 3 {
			return nil, fmt.Errorf("malformed line %q", s.Text())
		}
		m := mount{point: unescape(f[4]), root: unescape(f[3])}
		switch g[0] {
		case "cgroup2":
			if _, dup := t.v2[m.point]; !dup {
				t.v2[m.point] = m
			}
		case "cgroup":
			for _, opt := range strings.Split(g[2], ",") {
				if _, dup := t.v1[opt]; !dup {
					t.v1[opt] = m
				}
			}
		}
	}
	return t, s.Err()
}

// unescape undoes mountinfo's octal escapes of space, tab, newline and
// backslash (\040 and so on).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// v2Mount is the cgroup2 mount at point.
func (t *mountTable) v2Mount(point string) (mount, error) {
	if m, ok := t.v2[point]; ok {
		return m, nil
	}
	return mount{}, &Error{Op: "finding the cgroup2 mount", Path: point, Kind: ErrUnavailable,
		Err: errors.New("no cgroup2 filesystem is mounted there"), Hint: "mount it: mount -t cgroup2 none " + point}
}

const procSelfCgroup = "/proc/self/cgroup"

// selfCgroup reads the caller's cgroups (cgroups(7)): v1 by controller,
// v2 as the "0::" path. Read for every group, not once: a program may
// move itself between groups.
func selfCgroup() (v1 map[string]string, v2 string, err error) {
	b, err := os.ReadFile(procSelfCgroup)
	if err != nil {
		return nil, "", opError("reading", procSelfCgroup, err)
	}
	v1, v2, err = parseCgroupFile(string(b))
	if err != nil {
		return nil, "", opError("reading", procSelfCgroup, err)
	}
	return v1, v2, nil
}

// parseCgroupFile parses /proc/PID/cgroup: hierarchy-ID:controller-list:
// cgroup-path lines.
func parseCgroupFile(s string) (map[string]string, string, error) {
	v1, v2 := map[string]string{}, ""
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, "", fmt.Errorf("malformed line %q", line)
		}
		if f[1] == "" {
			v2 = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			v1[c] = f[2]
		}
	}
	return v1, v2, nil
}
