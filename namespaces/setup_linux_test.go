package namespaces

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		opts []string
		want mountOptions
	}{
		{[]string{"rbind", "rro", "rnosuid", "rnodev"}, mountOptions{bind: true, recursive: true,
			rset: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}},
		{[]string{"bind", "ro", "rw"}, mountOptions{bind: true, clr: unix.MOUNT_ATTR_RDONLY}},
		{[]string{"nosuid", "strictatime", "mode=755", "size=65536k"}, mountOptions{
			set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_STRICTATIME, clr: unix.MOUNT_ATTR__ATIME,
			data: []string{"mode=755", "size=65536k"}}},
		{[]string{"newinstance", "rslave"}, mountOptions{data: []string{"newinstance"}, propagation: unix.MS_SLAVE, propRecursive: true}},
	}
	for _, tt := range tests {
		got, err := parseOptions(tt.opts)
		if err != nil || !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("parseOptions(%q) = %+v, %v; want %+v", tt.opts, got, err, tt.want)
		}
	}
	if _, err := parseOptions([]string{"sync"}); err == nil || !strings.Contains(err.Error(), `"sync" is not supported`) {
		t.Errorf(`parseOptions(["sync"]) = %v, want it refused`, err)
	}
}

// sandbox runs script in a sandbox with a tmpfs root plus mounts, as root
// of a new user namespace (in the caller's mount and user namespaces for
// o.Detached), and returns its output.
func sandbox(t *testing.T, script string, s *specs.Spec, o Options) (string, error) {
	t.Helper()
	if s.Root == nil {
		s.Root = &specs.Root{Readonly: true}
	}
	var system []specs.Mount
	for _, dir := range []string{"/usr", "/bin", "/lib", "/lib64"} {
		if _, err := os.Stat(dir); err == nil {
			system = append(system, specs.Mount{Destination: dir, Type: "bind", Source: dir, Options: []string{"rbind", "rro"}})
		}
	}
	s.Mounts = append(append(system, []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "nodev", "noexec"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance", "ptmxmode=0666"}},
	}...), s.Mounts...)
	prog, err := Setup(s, o)
	if err != nil {
		return "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lx := &spawn.Linux{Namespaces: spawn.AllNamespaces, Setup: prog,
		UIDMappings: []spawn.IDMap{{ContainerID: 0, HostID: uint32(os.Getuid()), Size: 1}},
		GIDMappings: []spawn.IDMap{{ContainerID: 0, HostID: uint32(os.Getgid()), Size: 1}}, DenySetgroups: true}
	if o.Detached {
		// In the caller's mount namespace, with the caller's privilege.
		lx = &spawn.Linux{Namespaces: spawn.AllNamespaces &^ (spawn.NewMount | spawn.NewUser), Setup: prog}
	}
	cmd := &spawn.Cmd{Path: "/usr/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin"}, Stdout: w, Stderr: w, Linux: lx}
	p, err := cmd.Start()
	w.Close()
	if err != nil {
		return "", err
	}
	defer p.Close()
	out, _ := io.ReadAll(r)
	if st, err := p.Wait(); err != nil || st.ExitCode() != 0 {
		t.Fatalf("sandbox exited %v, %v:\n%s", st, err, out)
	}
	return string(out), nil
}

func TestRootAndMounts(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "file"), []byte("hi\n"), 0o644)
	out, err := sandbox(t, "cat /src/file; ls /; ls /dev | tr '\\n' ' '; echo; touch /src/new 2>&1; touch /new 2>&1; cat /proc/self/uid_map", &specs.Spec{
		Mounts: []specs.Mount{{Destination: "/src", Type: "bind", Source: src, Options: []string{"rbind", "rro"}}},
		Linux:  &specs.Linux{},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hi\n", "proc\nsrc\nusr\n", "full null ptmx pts random stderr stdin stdout tty urandom zero",
		"'/src/new': Read-only file system", "'/new': Read-only file system"} {
		if !strings.Contains(out, want) {
			t.Errorf("sandbox printed %q, want it to contain %q", out, want)
		}
	}
}

// TestDestinationEscape plants symlinks to the host's root in a
// bind-mounted tree; mounts through them must land inside the sandbox,
// whose root is a tmpfs, never in the host's directory of the same path.
func TestDestinationEscape(t *testing.T) {
	src, host := t.TempDir(), t.TempDir()
	os.Symlink("/", filepath.Join(src, "abs"))
	os.Symlink("../../../../../../..", filepath.Join(src, "rel"))
	for _, dst := range []string{"/src/abs" + host + "/a", "/src/rel" + host + "/b"} {
		out, err := sandbox(t, "grep -c ' "+strings.Replace(dst, "/src/abs", "", 1)+" ' /proc/self/mountinfo || true", &specs.Spec{
			Mounts: []specs.Mount{
				{Destination: "/src", Type: "bind", Source: src, Options: []string{"rbind", "rro"}},
				{Destination: dst, Type: "tmpfs", Source: "tmpfs"},
			},
			Linux: &specs.Linux{},
		}, Options{})
		if err != nil {
			t.Fatalf("mount on %s: %v", dst, err)
		}
		if entries, _ := os.ReadDir(host); len(entries) != 0 {
			t.Errorf("mount on %s created %v in the host's %s", dst, entries, host)
		}
		if strings.HasPrefix(dst, "/src/abs") && strings.TrimSpace(out) != "1" {
			t.Errorf("mount on %s: sandbox mountinfo has %q mounts at %s, want 1", dst, out, host+"/a")
		}
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	out, err := sandbox(t, "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname 2>&1 || echo refused", &specs.Spec{
		Linux: &specs.Linux{MaskedPaths: []string{"/proc/timer_list", "/proc/acpi", "/proc/no-such-file"}, ReadonlyPaths: []string{"/proc/sys"}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Fields(out); len(lines) < 3 || lines[0] != "0" || lines[1] != "0" || !strings.Contains(out, "refused") {
		t.Errorf("masked timer_list size, acpi entries, /proc/sys write = %q; want 0, 0, refused", out)
	}
}

func TestLoopbackUp(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/ip"); err != nil {
		t.Skip("needs ip(8) from iproute2 to read lo's flags")
	}
	out, err := sandbox(t, "/usr/sbin/ip -o link show lo",
		&specs.Spec{Linux: &specs.Linux{}}, Options{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, ",UP") {
		t.Errorf("lo in the sandbox = %q, want UP", out)
	}
}

func TestBindHostRootRefused(t *testing.T) {
	// By the directory, not the name: a symlink to "/" and /proc/self/root
	// passed the check once.
	link := filepath.Join(t.TempDir(), "to-root")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"/", link, "/proc/self/root"} {
		_, err := Setup(&specs.Spec{Root: &specs.Root{Readonly: true}, Linux: &specs.Linux{},
			Mounts: []specs.Mount{{Destination: "/host", Type: "bind", Source: src, Options: []string{"rbind"}}}}, Options{})
		if err == nil || !strings.Contains(err.Error(), `binding the host's "/"`) || !strings.Contains(err.Error(), "is not supported") {
			t.Errorf("Setup(bind %s on /host) = %v, want it refused", src, err)
		}
	}
}

// TestDetachedRoot: a child left in its caller's mount namespace gets its
// root, mounts, masked and read-only paths all the same, and the caller's
// mount table never shows one of them.
func TestDetachedRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a child in the caller's mount namespace mounts with the caller's privilege: needs root")
	}
	if !DetachedRoots() {
		t.Skip("the kernel mounts nothing on a detached tree (Linux 6.15 does)")
	}
	// The bind source is a shared mount, as systemd makes every mount: a
	// clone of it is its peer until made a slave, and the tmpfs mounted
	// on it at /src/sub would propagate back to the host.
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "file"), []byte("hi\n"), 0o644)
	os.Mkdir(filepath.Join(src, "sub"), 0o755)
	if err := unix.Mount(src, src, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(src, unix.MNT_DETACH) })
	if err := unix.Mount("", src, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	script := "cat /src/file; ls /; readlink /proc/self/ns/mnt; touch /src/new 2>&1 | grep -c Read-only; wc -c < /proc/timer_list; " +
		"(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo refused"
	out, err := sandbox(t, script, &specs.Spec{
		Mounts: []specs.Mount{
			{Destination: "/src", Type: "bind", Source: src, Options: []string{"rbind", "rro"}},
			{Destination: "/src/sub", Type: "tmpfs", Source: "tmpfs"},
		},
		Linux: &specs.Linux{MaskedPaths: []string{"/proc/timer_list"}, ReadonlyPaths: []string{"/proc/sys"}},
	}, Options{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Readlink("/proc/self/ns/mnt")
	want := "hi\nbin\ndev\nlib\nlib64\nproc\nsrc\nusr\n" + host + "\n1\n0\nrefused\n"
	if _, err := os.Stat("/lib64"); err != nil {
		want = strings.Replace(want, "lib64\n", "", 1)
	}
	if out != want {
		t.Errorf("detached root: output %q, want %q", out, want)
	}
	if after, _ := os.ReadFile("/proc/self/mountinfo"); string(after) != string(before) {
		t.Errorf("the caller's mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
