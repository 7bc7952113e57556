package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
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
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(64)}}, nil, ""},
		{"pids unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, nil, ""},
		{"pids unset", &specs.LinuxResources{Pids: &specs.LinuxPids{}}, nil, ""},
		{"pids zero", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}, ErrInvalid, "pids.limit"},
		{"cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)}}, nil, ""},
		{"cpu quota only", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000)}}, nil, ""},
		{"cpu unlimited", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}}, nil, ""},
		{"cpu quota tiny", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(999)}}, ErrInvalid, "cpu.quota"},
		{"cpu quota zero", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(0)}}, ErrInvalid, "cpu.quota"},
		{"cpu period tiny", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(10)}}, ErrInvalid, "cpu.period"},
		{"cpu period huge", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(2000000)}}, ErrInvalid, "cpu.period"},
		{"devices", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, ErrNotSupported, "linux.resources.devices"},
		{"blockIO", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(10)}}, ErrNotSupported, "linux.resources.blockIO"},
		{"hugepages", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}}, ErrNotSupported, "hugepageLimits"},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{}}, ErrNotSupported, "network"},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"x": {}}}, ErrNotSupported, "rdma"},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, ErrNotSupported, "unified"},
		{"reservation", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(1)}}, ErrNotSupported, "memory.reservation"},
		{"oom killer", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(false)}}, ErrNotSupported, "memory.disableOOMKiller"},
		{"swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(0)}}, ErrNotSupported, "memory.swappiness"},
		{"shares", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024)}}, ErrNotSupported, "cpu.shares"},
		{"cpuset", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, ErrNotSupported, "cpu.cpus"},
		{"realtime", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1)}}, ErrNotSupported, "cpu.realtimeRuntime"},
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

func TestNeedsOf(t *testing.T) {
	tests := []struct {
		name string
		r    *specs.LinuxResources
		want needs
	}{
		{"nil", nil, needs{}},
		{"unlimited asks for nothing", &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)},
			Pids:   &specs.LinuxPids{Limit: i64(-1)},
			CPU:    &specs.LinuxCPU{Quota: i64(-1)},
		}, needs{}},
		{"memory", mem(i64(1<<20), nil), needs{memory: true}},
		{"memory and swap", mem(i64(1<<20), i64(1<<20)), needs{memory: true, swap: true}},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(3)}}, needs{pids: true}},
		{"period alone", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(50000)}}, needs{cpu: true}},
	}
	for _, tt := range tests {
		if got := needsOf(tt.r); got != tt.want {
			t.Errorf("%s: needsOf() = %+v, want %+v", tt.name, got, tt.want)
		}
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

func TestUnsupportedListsEveryField(t *testing.T) {
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(1 << 30), Kernel: i64(1), CheckBeforeUpdate: boolp(true)},
		CPU:     &specs.LinuxCPU{Quota: i64(50000), Idle: i64(1), Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: i64(5)},
		BlockIO: &specs.LinuxBlockIO{},
		Unified: map[string]string{"io.max": "8:0 rbps=1"},
	}
	want := []string{"memory.kernel", "memory.checkBeforeUpdate", "cpu.mems", "cpu.idle", "blockIO", "unified"}
	if got := unsupported(r); !slices.Equal(got, want) {
		t.Errorf("unsupported() = %q, want %q", got, want)
	}
}
