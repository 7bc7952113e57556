package cgroup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func boolp(v bool) *bool   { return &v }
func u32(v uint32) *uint32 { return &v }
func mem(limit, swap *int64) *specs.LinuxResources {
	return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: limit, Swap: swap}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		r     *specs.LinuxResources
		kind  error  // nil: valid
		field string // named in the error
	}{
		{"nil", nil, nil, ""},
		{"empty", &specs.LinuxResources{}, nil, ""},
		{"memory", mem(i64(64<<20), nil), nil, ""},
		{"memory no swap", mem(i64(64<<20), i64(64<<20)), nil, ""},
		{"memory some swap", mem(i64(64<<20), i64(128<<20)), nil, ""},
		{"memory unlimited", mem(i64(-1), i64(-1)), nil, ""},
		{"memory zero", mem(i64(0), nil), ErrInvalid, "memory.limit"},
		{"memory negative", mem(i64(-2), nil), ErrInvalid, "memory.limit"},
		{"swap below limit", mem(i64(64<<20), i64(32<<20)), ErrInvalid, "memory.swap"},
		{"swap without limit", mem(nil, i64(64<<20)), ErrInvalid, "memory.swap"},
		{"swap with unlimited memory", mem(i64(-1), i64(64<<20)), ErrInvalid, "memory.swap"},
		{"swap zero", mem(i64(64<<20), i64(0)), ErrInvalid, "memory.swap"},
		{"reservation", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(1)}}, nil, ""},
		{"reservation negative", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(-5)}}, ErrInvalid, "memory.reservation"},
		{"no-op memory fields", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(false),
			Swappiness: u64(0), Kernel: i64(1), UseHierarchy: boolp(true), CheckBeforeUpdate: boolp(true)}}, nil, ""},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(64)}}, nil, ""},
		{"pids unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, nil, ""},
		{"pids unset", &specs.LinuxResources{Pids: &specs.LinuxPids{}}, nil, ""},
		{"pids zero is left to the caller", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}, nil, ""},
		{"pids negative", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-3)}}, ErrInvalid, "pids.limit"},
		{"cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)}}, nil, ""},
		{"cpu quota only", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000)}}, nil, ""},
		{"cpu unlimited", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}}, nil, ""},
		{"cpu quota tiny", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(999)}}, ErrInvalid, "cpu.quota"},
		{"cpu quota zero", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(0)}}, ErrInvalid, "cpu.quota"},
		{"cpu period tiny", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(10)}}, ErrInvalid, "cpu.period"},
		{"cpu period huge", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(2000000)}}, ErrInvalid, "cpu.period"},
		{"cpu idle", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1)}}, nil, ""},
		{"cpu idle 2", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(2)}}, ErrInvalid, "cpu.idle"},
		{"cpu shares, set, realtime", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(2), Cpus: "0", Mems: "0",
			RealtimeRuntime: i64(1), RealtimePeriod: u64(1), Burst: u64(1)}}, nil, ""},
		{"devices as containerd sends them", &specs.LinuxResources{Devices: containerdDevices()}, nil, ""},
		{"device type", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}}}, ErrInvalid, "devices[0].type"},
		{"device access", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}}, ErrInvalid, "devices[0].access"},
		{"blockIO", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(10)}}, nil, ""},
		{"blockIO weight tiny", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(9)}}, ErrInvalid, "blockIO.weight"},
		{"blockIO device weight huge", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{
			{Weight: u16(1001)}}}}, ErrInvalid, "blockIO.weightDevice[0].weight"},
		{"hugepages", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}}, nil, ""},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}}, nil, ""},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"x": {}}}, nil, ""},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, nil, ""},
		{"unified path", &specs.LinuxResources{Unified: map[string]string{"../memory.high": "1"}}, ErrInvalid, "unified"},
		{"unified procs", &specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, ErrInvalid, "unified"},
		{"empty slices are unset", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}, Unified: map[string]string{}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(tt.r)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(fmt.Sprint(err), tt.field) {
				t.Fatalf("validate() = %v, want %v naming %q", err, tt.kind, tt.field)
			}
		})
	}
}

// containerdDevices is the device list containerd and podman send for
// every container: deny all, then allow the usual nodes.
func containerdDevices() []specs.LinuxDeviceCgroup {
	allow := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		allow("c", 1, 3, "rwm"), allow("c", 1, 5, "rwm"), allow("c", 1, 7, "rwm"), allow("c", 1, 8, "rwm"),
		allow("c", 1, 9, "rwm"), allow("c", 5, 0, "rwm"), allow("c", 5, 2, "rwm"), allow("c", 136, -1, "rwm"),
		allow("c", 10, 200, "rwm"),
	}
}

func TestCheckSandbox(t *testing.T) {
	if err := checkSandbox(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("checkSandbox(pids 0) = %v, want ErrInvalid", err)
	}
	if err := checkSandbox(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}}); err != nil {
		t.Errorf("checkSandbox(pids 1) = %v, want nil", err)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want cgroupsPath
		kind error
	}{
		{"/machine/c1", cgroupsPath{"/machine/c1", true}, nil},
		{"/a/../b//c/", cgroupsPath{"/b/c", true}, nil},
		{"/../../x", cgroupsPath{"/x", true}, nil},
		{"c1", cgroupsPath{"c1", false}, nil},
		{"a/b/../c", cgroupsPath{"a/c", false}, nil},
		{"system.slice:containerd:c1", cgroupsPath{}, ErrNotSupported},
		{":sbx:c1", cgroupsPath{}, ErrNotSupported},
		{"", cgroupsPath{}, ErrInvalid},
		{"/", cgroupsPath{}, ErrInvalid},
		{"/a/..", cgroupsPath{}, ErrInvalid},
		{".", cgroupsPath{}, ErrInvalid},
		{"..", cgroupsPath{}, ErrInvalid},
		{"../escape", cgroupsPath{}, ErrInvalid},
		{"a/../../escape", cgroupsPath{}, ErrInvalid},
		{"a\nb", cgroupsPath{}, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.in)
		if got != tt.want || !errors.Is(err, tt.kind) || (tt.kind == nil) != (err == nil) {
			t.Errorf("parsePath(%q) = %+v, %v, want %+v, %v", tt.in, got, err, tt.want, tt.kind)
		}
	}
	_, err := parsePath("kubepods.slice:cri-containerd:abc")
	if want := "systemd cgroup driver not supported; use cgroupfs"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("parsePath(systemd form) = %v, want it to say %q", err, want)
	}
}

func TestRefJSON(t *testing.T) {
	ref := Ref{Mode: "v2", Dirs: map[string]string{"": "/sys/fs/cgroup/sbx/c1"}, Paths: map[string]string{"": "/sbx/c1"},
		Mount: "/sys/fs/cgroup", Created: []string{"/sys/fs/cgroup/sbx", "/sys/fs/cgroup/sbx/c1"}}
	b, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mode":"v2","dirs":{"":"/sys/fs/cgroup/sbx/c1"},"paths":{"":"/sbx/c1"},"mount":"/sys/fs/cgroup",` +
		`"created":["/sys/fs/cgroup/sbx","/sys/fs/cgroup/sbx/c1"]}`
	if string(b) != want {
		t.Errorf("json.Marshal(Ref) = %s, want %s", b, want)
	}
	var back Ref
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, ref) {
		t.Errorf("json.Unmarshal = %+v, %v, want %+v", back, err, ref)
	}
}

func TestDirName(t *testing.T) {
	for _, name := range []string{"a", "ci-job.42", strings.Repeat("x", maxName)} {
		if got, err := dirName(name); err != nil || got != prefix+name {
			t.Errorf("dirName(%q) = %q, %v, want %q", name, got, err, prefix+name)
		}
	}
	for _, name := range []string{".", "..", "a/b", "a\nb", "a\x00", strings.Repeat("x", maxName+1)} {
		if _, err := dirName(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("dirName(%q) = %v, want ErrInvalid", name, err)
		}
	}
	a, _ := dirName("")
	b, _ := dirName("")
	if a == b || !strings.HasPrefix(a, prefix) {
		t.Errorf("dirName(\"\") twice = %q, %q, want two distinct %s… names", a, b, prefix)
	}
}

func TestErrorMessage(t *testing.T) {
	cause := &fs.PathError{Op: "mkdir", Path: "/sys/fs/cgroup/pids/sbx-a", Err: syscall.EACCES}
	e := opError("creating", "/elsewhere", cause)
	e.Kind, e.Hint = ErrUnavailable, "run as root"
	want := "cgroup: creating /sys/fs/cgroup/pids/sbx-a: permission denied (run as root)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, ErrUnavailable) || !errors.Is(e, syscall.EACCES) {
		t.Errorf("errors.Is(%v, ErrUnavailable / EACCES) = false, want true", e)
	}
}

func TestUnknownListsEveryField(t *testing.T) {
	// A stand-in for a newer runtime-spec: fields this package does not
	// know must be listed, however deep.
	type future struct {
		Memory *struct {
			Limit  *int64 `json:"limit"`
			Future *int64 `json:"future"`
		} `json:"memory"`
		Extra []int          `json:"extra"`
		Empty map[string]int `json:"empty"`
	}
	v := future{Extra: []int{1}, Empty: map[string]int{}}
	v.Memory = &struct {
		Limit  *int64 `json:"limit"`
		Future *int64 `json:"future"`
	}{Limit: i64(1), Future: i64(2)}
	want := []string{"memory.future", "extra"}
	if got := unknown(reflect.ValueOf(v), ""); !slices.Equal(got, want) {
		t.Errorf("unknown() = %q, want %q", got, want)
	}
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(1 << 30), Kernel: i64(1), CheckBeforeUpdate: boolp(true)},
		CPU:     &specs.LinuxCPU{Quota: i64(50000), Idle: i64(1), Mems: "0"},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(100)},
		Unified: map[string]string{"io.max": "8:0 rbps=1"},
	}
	if got := unsupported(r); len(got) != 0 {
		t.Errorf("unsupported(every runtime-spec 1.3 field) = %q, want none", got)
	}
}

// TestZeroUnset: Docker's zeros become unset, other values stay, and the
// caller's resources are not changed.
func TestZeroUnset(t *testing.T) {
	zero, limit, zeroW, weight, zeroU := int64(0), int64(1<<30), uint16(0), uint16(500), uint64(0)
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: &limit, Swap: &zero},
		CPU:     &specs.LinuxCPU{Quota: &zero, Shares: &zeroU},
		BlockIO: &specs.LinuxBlockIO{Weight: &zeroW, WeightDevice: []specs.LinuxWeightDevice{{Weight: &weight, LeafWeight: &zeroW}}},
	}
	got := zeroUnset(r)
	if got.Memory.Limit != &limit || got.Memory.Swap != nil || got.CPU.Quota != nil || got.CPU.Shares != nil ||
		got.BlockIO.Weight != nil || got.BlockIO.WeightDevice[0].Weight != &weight || got.BlockIO.WeightDevice[0].LeafWeight != nil {
		t.Errorf("zeroUnset = %+v %+v %+v, want the zeros unset and the rest kept", *got.Memory, *got.CPU, got.BlockIO.WeightDevice[0])
	}
	if r.Memory.Swap != &zero || r.CPU.Quota != &zero || r.BlockIO.Weight != &zeroW || r.BlockIO.WeightDevice[0].LeafWeight != &zeroW {
		t.Error("zeroUnset changed its argument")
	}
}
