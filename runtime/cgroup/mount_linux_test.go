package cgroup

import (
	"strings"
	"testing"
)

// A hybrid host as systemd mounts it, seen from a container whose memory
// hierarchy is a bind of its own subtree.
const mountinfo = `22 1 0:21 / /proc rw,nosuid - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /ctr/c1 /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 1 0:38 / /mnt/odd\040name rw - cgroup2 cgroup2 rw
43 1 0:29 / /elsewhere/cpu rw - cgroup cgroup rw,cpu,cpuacct
`

func TestParseMountinfo(t *testing.T) {
	tab, err := parseMountinfo(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	v1 := []struct {
		ctrl, point, root string
	}{
		{"cpu", "/sys/fs/cgroup/cpu,cpuacct", "/"}, // the first mount wins
		{"cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/"},
		{"memory", "/sys/fs/cgroup/memory", "/ctr/c1"},
		{"name=systemd", "/sys/fs/cgroup/systemd", "/"},
	}
	for _, w := range v1 {
		if m := tab.v1[w.ctrl]; m.point != w.point || m.root != w.root {
			t.Errorf("v1[%q] = %+v, want %s at %s", w.ctrl, m, w.root, w.point)
		}
	}
	if _, ok := tab.v1["pids"]; ok {
		t.Errorf("v1[pids] is there, want it absent")
	}
	for _, point := range []string{"/sys/fs/cgroup/unified", "/mnt/odd name"} {
		if m, err := tab.v2Mount(point); err != nil || m.root != "/" {
			t.Errorf("v2Mount(%q) = %+v, %v, want it, root /", point, m, err)
		}
	}
	if _, err := tab.v2Mount("/sys/fs/cgroup"); err == nil {
		t.Errorf("v2Mount(/sys/fs/cgroup) = nil error, want one: it is a tmpfs here")
	}
	if _, err := parseMountinfo(strings.NewReader("garbage\n")); err == nil {
		t.Errorf("parseMountinfo(garbage) = nil error, want one")
	}
}

func TestMountDir(t *testing.T) {
	tests := []struct {
		m    mount
		p    string
		want string
		ok   bool
	}{
		{mount{"/sys/fs/cgroup/memory", "/"}, "/a/b", "/sys/fs/cgroup/memory/a/b", true},
		{mount{"/sys/fs/cgroup/memory", "/ctr/c1"}, "/ctr/c1/sub", "/sys/fs/cgroup/memory/sub", true},
		{mount{"/sys/fs/cgroup/memory", "/ctr/c1"}, "/ctr/c1", "/sys/fs/cgroup/memory", true},
		{mount{"/sys/fs/cgroup/memory", "/ctr/c1"}, "/ctr/c10", "", false},
		{mount{"/sys/fs/cgroup/memory", "/ctr/c1"}, "/other", "", false},
	}
	for _, tt := range tests {
		if got, ok := tt.m.dir(tt.p); got != tt.want || ok != tt.ok {
			t.Errorf("%+v.dir(%q) = %q, %v, want %q, %v", tt.m, tt.p, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseCgroupFile(t *testing.T) {
	v1, v2, err := parseCgroupFile("12:cpu,cpuacct:/a\n1:name=systemd:/user.slice\n0::/init.scope\n")
	if err != nil || v1["cpu"] != "/a" || v1["cpuacct"] != "/a" || v1["name=systemd"] != "/user.slice" || v2 != "/init.scope" {
		t.Errorf("parseCgroupFile() = %v, %q, %v", v1, v2, err)
	}
	if _, _, err := parseCgroupFile("nonsense"); err == nil {
		t.Errorf("parseCgroupFile(nonsense) = nil error, want one")
	}
}
