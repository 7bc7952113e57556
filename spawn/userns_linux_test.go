package spawn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUserNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mapping ids other than one's own needs root")
	}
	m := []IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}
	ns, err := UserNamespace(m, m)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	typ, err := unix.IoctlRetInt(int(ns.Fd()), 0xb703) // NS_GET_NSTYPE
	if err != nil || typ != unix.CLONE_NEWUSER {
		t.Fatalf("NS_GET_NSTYPE = %#x, %v; want CLONE_NEWUSER", typ, err)
	}
	var got, own unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &got); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/proc/self/ns/user", &own); err != nil {
		t.Fatal(err)
	}
	if got.Ino == own.Ino {
		t.Error("UserNamespace returned the caller's own user namespace")
	}
	// The helper that made it is gone: no child of any of our threads.
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) != "" {
			t.Errorf("%s lists %q after UserNamespace", f, b)
		}
	}
	// An impossible mapping is the helper's error, not a namespace.
	if ns, err := UserNamespace([]IDMap{{ContainerID: 0, HostID: 0, Size: 0}}, m); err == nil {
		ns.Close()
		t.Error("UserNamespace with a zero-size mapping succeeded")
	}
}
