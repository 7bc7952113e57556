package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var host = HostIDs{UID: 1000, GID: 1001}

// designExample is the spec of DESIGN.md, "The sandbox spec".
const designExample = `{
  "process": {
    "args": ["go", "test", "./..."],
    "env": ["PATH=/usr/local/go/bin:/usr/bin:/bin", "HOME=/tmp"],
    "cwd": "/src",
    "user": {"uid": 0, "gid": 0},
    "terminal": false
  },
  "root": {"path": "/", "writable": false},
  "mounts": [
    {"source": ".", "destination": "/src", "writable": true},
    {"type": "tmpfs", "destination": "/tmp", "size": "256MiB"}
  ],
  "share": {"network": false, "pid": false, "ipc": false, "uts": false,
            "cgroup": false, "time": false, "user": false},
  "hostname": "sbx",
  "limits": {"memory": "2GiB", "pids": 512, "cpus": 1.5,
             "timeout": "10m", "openFiles": 1024},
  "seccomp": "default",
  "capabilities": []
}`

// defaultMounts are the mounts every sandbox gets first.
var defaultMounts = []specs.Mount{
	{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "nodev", "noexec"}},
	{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
	{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
	{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=65536k"}},
}

var allNamespaces = []specs.LinuxNamespace{
	{Type: "user"}, {Type: "pid"}, {Type: "mount"}, {Type: "network"},
	{Type: "ipc"}, {Type: "uts"}, {Type: "cgroup"}, {Type: "time"},
}

// same reports a difference between got and want as JSON, which shows
// what pointers point to.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func ptr[T any](v T) *T { return &v }

// load writes spec to spec.json in dir and loads it.
func load(t *testing.T, dir, spec string) *Sandbox {
	t.Helper()
	p := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(p)
	if err != nil {
		t.Fatalf("Load(%s) = %v", spec, err)
	}
	return s
}

// convert parses spec and converts it with host.
func convert(t *testing.T, dir, spec string) (*specs.Spec, *Policy) {
	t.Helper()
	s, err := Parse("spec.json", []byte(spec), dir)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", spec, err)
	}
	oci, pol, err := s.OCI(host)
	if err != nil {
		t.Fatalf("OCI(%+v) of %s = %v", host, spec, err)
	}
	return oci, pol
}

func TestOCIDesignExample(t *testing.T) {
	dir := testDir(t)
	s := load(t, dir, designExample)
	same(t, "Load().Mounts[0]", s.Mounts[0], Mount{Type: "bind", Source: dir, Destination: "/src", Writable: true})

	oci, pol, err := s.OCI(host)
	if err != nil {
		t.Fatalf("OCI(%+v) = %v", host, err)
	}
	same(t, "OCI().Version", oci.Version, specs.Version)
	same(t, "OCI().Process", oci.Process, &specs.Process{
		Args:            []string{"go", "test", "./..."},
		Env:             []string{"PATH=/usr/local/go/bin:/usr/bin:/bin", "HOME=/tmp"},
		Cwd:             "/src",
		NoNewPrivileges: true,
		Capabilities:    &specs.LinuxCapabilities{Bounding: []string{}, Effective: []string{}, Permitted: []string{}},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
	})
	same(t, "OCI().Root", oci.Root, &specs.Root{Path: "/", Readonly: true})
	same(t, "OCI().Hostname", oci.Hostname, "sbx")
	same(t, "OCI().Mounts", oci.Mounts, append(slices.Clone(defaultMounts),
		specs.Mount{Destination: "/src", Type: "bind", Source: dir, Options: []string{"rbind", "rw", "rnosuid", "rnodev"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=268435456", "ro"}},
	))
	l := oci.Linux
	same(t, "OCI().Linux.Namespaces", l.Namespaces, allNamespaces)
	same(t, "OCI().Linux.UIDMappings", l.UIDMappings, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}})
	same(t, "OCI().Linux.GIDMappings", l.GIDMappings, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}})
	same(t, "OCI().Linux.Resources", l.Resources, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(2 << 30)), Swap: ptr(int64(2 << 30))},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(512))},
		CPU:    &specs.LinuxCPU{Quota: ptr(int64(150000)), Period: ptr(uint64(100000))},
	})
	same(t, "OCI().Linux.MaskedPaths", l.MaskedPaths, []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
		"/proc/scsi", "/sys/devices/virtual/tpm",
	})
	same(t, "OCI().Linux.ReadonlyPaths", l.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})
	same(t, "OCI().Linux.Seccomp", l.Seccomp, (*specs.LinuxSeccomp)(nil))
	same(t, "OCI() policy", pol, &Policy{Timeout: 10 * time.Minute, Seccomp: "default"})
}

func TestOCIDefaults(t *testing.T) {
	oci, pol := convert(t, t.TempDir(), `{"process": {"args": ["x"]}}`)
	same(t, "OCI().Process.Env", oci.Process.Env, []string{})
	same(t, "OCI().Process.Cwd", oci.Process.Cwd, "/")
	same(t, "OCI().Process.Rlimits", oci.Process.Rlimits, []specs.POSIXRlimit(nil))
	same(t, "OCI().Root", oci.Root, &specs.Root{Path: "", Readonly: true})
	same(t, "OCI().Hostname", oci.Hostname, "sbx")
	same(t, "OCI().Mounts", oci.Mounts, append(slices.Clone(defaultMounts),
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}}))
	same(t, "OCI().Linux.Namespaces", oci.Linux.Namespaces, allNamespaces)
	same(t, "OCI().Linux.UIDMappings", oci.Linux.UIDMappings, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}})
	same(t, "OCI().Linux.Resources", oci.Linux.Resources, (*specs.LinuxResources)(nil))
	same(t, "OCI() policy", pol, &Policy{Seccomp: "default"})
}

func TestOCIShare(t *testing.T) {
	tests := []struct {
		share string
		drop  specs.LinuxNamespaceType
	}{
		{"network", "network"},
		{"pid", "pid"},
		{"ipc", "ipc"},
		{"uts", "uts"},
		{"cgroup", "cgroup"},
		{"time", "time"},
		{"user", "user"},
	}
	for _, tt := range tests {
		t.Run(tt.share, func(t *testing.T) {
			oci, _ := convert(t, t.TempDir(), withArgs(`"share": {"`+tt.share+`": true}`))
			var want []specs.LinuxNamespace
			for _, ns := range allNamespaces {
				if ns.Type != tt.drop {
					want = append(want, ns)
				}
			}
			same(t, "OCI().Linux.Namespaces", oci.Linux.Namespaces, want)
			if got, want := oci.Linux.UIDMappings == nil, tt.share == "user"; got != want {
				t.Errorf("OCI().Linux.UIDMappings = %v, want nil: %v", oci.Linux.UIDMappings, want)
			}
			if got, want := oci.Hostname, map[bool]string{true: "", false: "sbx"}[tt.share == "uts"]; got != want {
				t.Errorf("OCI().Hostname = %q, want %q", got, want)
			}
		})
	}
}

func TestOCIShareEverything(t *testing.T) {
	oci, _ := convert(t, t.TempDir(), withArgs(`"share": {"network": true, "pid": true, "ipc": true, "uts": true, "cgroup": true, "time": true, "user": true}`))
	same(t, "OCI().Linux.Namespaces", oci.Linux.Namespaces, []specs.LinuxNamespace{{Type: "mount"}})
}

func TestOCICapabilities(t *testing.T) {
	caps := []string{"CAP_NET_BIND_SERVICE", "CAP_KILL"}
	tests := []struct {
		user string
		want *specs.LinuxCapabilities
	}{
		{`{"uid": 0, "gid": 0}`, &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}},
		{`{"uid": 1000, "gid": 1000}`, &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps}},
	}
	for _, tt := range tests {
		spec := `{"process": {"args": ["x"], "user": ` + tt.user + `}, "capabilities": ["net_bind_service", "CAP_KILL"]}`
		oci, _ := convert(t, t.TempDir(), spec)
		same(t, "OCI("+spec+").Process.Capabilities", oci.Process.Capabilities, tt.want)
	}
}

func TestOCIMappings(t *testing.T) {
	spec := `{"process": {"args": ["x"], "user": {"uid": 1000, "gid": 1000}},
		"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}],
		"gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}`
	oci, _ := convert(t, t.TempDir(), spec)
	same(t, "OCI().Linux.UIDMappings", oci.Linux.UIDMappings, []specs.LinuxIDMapping{
		{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}})
	same(t, "OCI().Linux.GIDMappings", oci.Linux.GIDMappings, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}})
	same(t, "OCI().Process.User", oci.Process.User, specs.User{UID: 1000, GID: 1000})
}

func TestOCIMounts(t *testing.T) {
	dir := testDir(t)
	tests := []struct {
		mount string
		want  specs.Mount
	}{
		{`{"type": "tmpfs", "destination": "/scratch", "writable": true, "size": "1MiB", "mode": "1777"}`,
			specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1048576", "mode=1777"}}},
		{`{"type": "tmpfs", "destination": "/cache/"}`,
			specs.Mount{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "ro"}}},
		{`{"source": "src", "destination": "/src"}`,
			specs.Mount{Destination: "/src", Type: "bind", Source: filepath.Join(dir, "src"), Options: []string{"rbind", "rro", "rnosuid", "rnodev"}}},
		{`{"type": "bind", "source": "` + dir + `/src/../file.txt", "destination": "/f", "writable": true}`,
			specs.Mount{Destination: "/f", Type: "bind", Source: filepath.Join(dir, "file.txt"), Options: []string{"rbind", "rw", "rnosuid", "rnodev"}}},
	}
	for _, tt := range tests {
		spec := withArgs(`"root": {"path": "src", "writable": true}, "mounts": [` + tt.mount + `]`)
		oci, _ := convert(t, dir, spec)
		same(t, "OCI("+tt.mount+").Mounts", oci.Mounts, append(slices.Clone(defaultMounts), tt.want))
	}
}

func TestOCIRootTmpfsWithTmp(t *testing.T) {
	oci, _ := convert(t, t.TempDir(), withArgs(`"mounts": [{"type": "tmpfs", "destination": "/tmp/", "writable": true}]`))
	same(t, "OCI().Mounts", oci.Mounts, append(slices.Clone(defaultMounts),
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}}))
}

func TestOCISeccompFile(t *testing.T) {
	dir := testDir(t)
	s := load(t, dir, withArgs(`"seccomp": "allow.json"`))
	if want := filepath.Join(dir, "allow.json"); s.Seccomp != want {
		t.Errorf("Load().Seccomp = %q, want %q", s.Seccomp, want)
	}
	oci, pol, err := s.OCI(host)
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	same(t, "OCI().Linux.Seccomp", oci.Linux.Seccomp, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"kexec_load"}, Action: specs.ActErrno}},
	})
	same(t, "OCI() policy Seccomp", pol.Seccomp, "")
}

func TestOCIUnconfined(t *testing.T) {
	oci, pol := convert(t, t.TempDir(), withArgs(`"seccomp": "unconfined"`))
	same(t, "OCI().Linux.Seccomp", oci.Linux.Seccomp, (*specs.LinuxSeccomp)(nil))
	same(t, "OCI() policy Seccomp", pol.Seccomp, "unconfined")
}

// A Sandbox built in Go is validated by OCI, and named "sandbox" in errors.
func TestOCIBuiltInGo(t *testing.T) {
	s := &Sandbox{Process: Process{Args: []string{"x"}}, Mounts: []Mount{{Source: "nope", Destination: "/a"}}}
	_, _, err := s.OCI(host)
	if want := `sandbox: mounts[0].source: "nope": no such file or directory`; err == nil || err.Error() != want {
		t.Errorf("OCI() = %v, want %q", err, want)
	}
	s.Mounts[0].Source = "."
	oci, _, err := s.OCI(host)
	if err != nil {
		t.Fatalf("OCI() = %v", err)
	}
	wd, _ := os.Getwd()
	if got := oci.Mounts[len(oci.Mounts)-1].Source; got != wd {
		t.Errorf("OCI().Mounts[last].Source = %q, want %q", got, wd)
	}
	if s.Mounts[0].Source != "." || s.Mounts[0].Type != "" {
		t.Errorf("OCI() changed its receiver's mount to %+v", s.Mounts[0])
	}
}

// Load resolves relative paths against the spec file's directory, not
// the working directory.
func TestLoadRelative(t *testing.T) {
	dir := testDir(t)
	sub := filepath.Join(dir, "src")
	p := filepath.Join(sub, "spec.json")
	spec := withArgs(`"root": {"path": ".."}, "mounts": [{"source": "../file.txt", "destination": "/f"}]`)
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(p)
	if err != nil {
		t.Fatalf("Load(%q) = %v", p, err)
	}
	if s.Root.Path != dir {
		t.Errorf("Load(%q).Root.Path = %q, want %q", p, s.Root.Path, dir)
	}
	if want := filepath.Join(dir, "file.txt"); s.Mounts[0].Source != want {
		t.Errorf("Load(%q).Mounts[0].Source = %q, want %q", p, s.Mounts[0].Source, want)
	}
}

// A loaded Sandbox marshals back to JSON that loads to the same Sandbox.
func TestRoundTrip(t *testing.T) {
	dir := testDir(t)
	s := load(t, dir, designExample)
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(%+v) = %v", s, err)
	}
	back, err := Parse("spec.json", data, dir)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", data, err)
	}
	back.file = s.file
	s.Capabilities = nil // the example's [] marshals to nothing
	same(t, "Parse(json.Marshal(Load()))", back, s)
}

func TestOCIReadonlyRootGetsTmp(t *testing.T) {
	dir := testDir(t)
	oci, _ := convert(t, dir, withArgs(`"root": {"path": "src"}`))
	same(t, "OCI().Mounts", oci.Mounts, append(slices.Clone(defaultMounts),
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}}))
}

func TestOCISharedPIDBindsProc(t *testing.T) {
	oci, _ := convert(t, t.TempDir(), withArgs(`"share": {"pid": true}`))
	want := specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind", "rnosuid", "rnodev", "rnoexec"}}
	same(t, "OCI().Mounts[0]", oci.Mounts[0], want)
}
