package cgroup

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// opStrings shows ops as file=value, with |alt=value when there is one
// and ? when the file is optional.
func opStrings(ops []op) []string {
	var s []string
	for _, o := range ops {
		x := o.file + "=" + o.value
		if o.alt != "" {
			x += "|" + o.alt + "=" + o.altValue
		}
		if o.optional {
			x += "?"
		}
		s = append(s, x)
	}
	return s
}

func needs(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// containerdResources is what containerd's CRI plugin sends for a
// burstable pod's container, no-op fields included.
func containerdResources() *specs.LinuxResources {
	return &specs.LinuxResources{
		Devices: containerdDevices(),
		Memory:  &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(64 << 20), DisableOOMKiller: boolp(false)},
		CPU:     &specs.LinuxCPU{Shares: u64(2), Quota: i64(-1), Period: u64(100000)},
		Pids:    &specs.LinuxPids{Limit: i64(100)},
	}
}

var (
	v1New    = v1State{swap: true, limit: math.MaxInt64}
	v1NoSwap = v1State{limit: math.MaxInt64}
)

func TestPlanV1(t *testing.T) {
	tests := []struct {
		name string
		r    *specs.LinuxResources
		st   v1State
		ops  []string
		need []string
	}{
		{"nil", nil, v1New, nil, nil},
		{"containerd", containerdResources(), v1New,
			[]string{"memory.limit_in_bytes=67108864", "memory.memsw.limit_in_bytes=67108864", "pids.max=100"},
			[]string{"cpu", "devices", "memory", "pids"}},
		{"swap neither accounted nor on", mem(i64(64<<20), i64(128<<20)), v1NoSwap,
			[]string{"memory.limit_in_bytes=67108864"}, []string{"memory"}},
		{"no limit is what a new group has", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)},
			Pids: &specs.LinuxPids{Limit: i64(-1)}}, v1New, nil, nil},
		{"raising memory+swap goes first", mem(i64(128<<20), i64(256<<20)), v1State{update: true, swap: true, limit: 64 << 20},
			[]string{"memory.memsw.limit_in_bytes=268435456", "memory.limit_in_bytes=134217728"}, []string{"memory"}},
		{"lowering memory+swap goes last", mem(i64(32<<20), i64(32<<20)), v1State{update: true, swap: true, limit: 128 << 20},
			[]string{"memory.limit_in_bytes=33554432", "memory.memsw.limit_in_bytes=33554432"}, []string{"memory"}},
		{"lifting the limit lifts memory+swap first", mem(i64(-1), nil), v1State{update: true, swap: true, limit: 128 << 20},
			[]string{"memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"}, []string{"memory"}},
		{"update writes max", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, v1State{update: true},
			[]string{"pids.max=max"}, []string{"pids"}},
		{"pids 0 is unset", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}, v1New, nil, nil},
		{"kernel memory is not written", &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(1 << 20)}}, v1New, nil, nil},
		{"use_hierarchy", &specs.LinuxResources{Memory: &specs.LinuxMemory{UseHierarchy: boolp(true)}}, v1New,
			[]string{"memory.use_hierarchy=1"}, []string{"memory"}},
		{"cpu beyond cgroup1", &specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(1000), Idle: i64(1), Cpus: "0-1", Mems: "0"}}, v1New,
			[]string{"cpu.cfs_burst_us=1000", "cpu.idle=1", "cpuset.cpus=0-1", "cpuset.mems=0"}, []string{"cpu", "cpuset"}},
		{"block I/O weights fall back to BFQ", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500), LeafWeight: u16(300),
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(200)}}}}, v1New,
			[]string{"blkio.weight=500|blkio.bfq.weight=500", "blkio.leaf_weight=300", "blkio.weight_device=8:0 200|blkio.bfq.weight_device=8:0 200"},
			[]string{"blkio"}},
		{"hugepages with reservations", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}}}, v1New,
			[]string{"hugetlb.2MB.rsvd.limit_in_bytes=0?"}, []string{"hugetlb"}},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(7),
			Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}}, v1New, nil, []string{"net_cls", "net_prio"}},
		{"rdma, every device", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaObjects: u32(9)},
			"mlx5_0": {HcaHandles: u32(2), HcaObjects: u32(3)}, "none": {}}}, v1New,
			[]string{"rdma.max=mlx5_0 hca_handle=2 hca_object=3", "rdma.max=mlx5_1 hca_object=9"}, []string{"rdma"}},
		{"devices are not updated", &specs.LinuxResources{Devices: containerdDevices()}, v1State{update: true}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newPlanV1(tt.r, tt.st)
			if err != nil {
				t.Fatalf("newPlanV1() = %v", err)
			}
			if got := opStrings(p.ops); !slices.Equal(got, tt.ops) {
				t.Errorf("newPlanV1() ops = %q, want %q", got, tt.ops)
			}
			if got := needs(p.need); !slices.Equal(got, tt.need) {
				t.Errorf("newPlanV1() needs %q, want %q", got, tt.need)
			}
		})
	}
}

// TestPlanV1Lib checks what is left for cgroup1's controllers to write.
func TestPlanV1Lib(t *testing.T) {
	p, err := newPlanV1(containerdResources(), v1New)
	if err != nil {
		t.Fatal(err)
	}
	if p.lib.Memory == nil || p.lib.Memory.Limit != nil || p.lib.Memory.Swap != nil || *p.lib.Memory.DisableOOMKiller {
		t.Errorf("lib.Memory = %+v, want only DisableOOMKiller false (limit and swap are written in order here)", p.lib.Memory)
	}
	if c := p.lib.CPU; c == nil || *c.Shares != 2 || *c.Quota != -1 || *c.Period != 100000 {
		t.Errorf("lib.CPU = %+v, want shares 2, quota -1, period 100000", c)
	}
	if d := p.lib.Devices; len(d) != len(containerdDevices()) || d[0].Type != "a" || d[0].Allow {
		t.Errorf("lib.Devices = %+v, want the list with deny-all typed \"a\"", d)
	}
	if want := []string{"devices", "memory", "cpu"}; !slices.Equal(sortedCopy(p.libs), sortedCopy(want)) {
		t.Errorf("lib controllers = %q, want %q", p.libs, want)
	}
	b, _ := newPlanV1(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(100),
		ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Rate: 1}}}}, v1New)
	if b.lib.BlockIO == nil || b.lib.BlockIO.Weight != nil || len(b.lib.BlockIO.ThrottleReadBpsDevice) != 1 {
		t.Errorf("lib.BlockIO = %+v, want the throttle only", b.lib.BlockIO)
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func TestPlanV1Refuses(t *testing.T) {
	_, err := newPlanV1(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, v1New)
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "linux.resources.unified") {
		t.Errorf("newPlanV1(unified) = %v, want ErrNotSupported naming linux.resources.unified", err)
	}
}

func TestPlanV2(t *testing.T) {
	up := v2State{update: true, swap: true}
	tests := []struct {
		name string
		r    *specs.LinuxResources
		st   v2State
		lib  cgroup2.Resources
		ops  []string
		need []string
	}{
		{"nil", nil, v2State{swap: true}, cgroup2.Resources{}, nil, nil},
		{"containerd", containerdResources(), v2State{swap: true}, cgroup2.Resources{
			Devices: devices(containerdDevices()),
			Memory:  &cgroup2.Memory{Max: i64(64 << 20), Swap: i64(0)},
			CPU:     &cgroup2.CPU{Weight: u64(1), Max: "max 100000"},
			Pids:    &cgroup2.Pids{Max: 100},
		}, nil, []string{"cpu", "memory", "pids"}},
		{"swap neither accounted nor on", mem(i64(64<<20), i64(128<<20)), v2State{},
			cgroup2.Resources{Memory: &cgroup2.Memory{Max: i64(64 << 20)}}, nil, []string{"memory"}},
		{"no-op fields", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(false), UseHierarchy: boolp(true),
			Kernel: i64(1), CheckBeforeUpdate: boolp(true)}, CPU: &specs.LinuxCPU{Quota: i64(-1)}, Pids: &specs.LinuxPids{Limit: i64(0)}},
			v2State{swap: true}, cgroup2.Resources{}, nil, nil},
		{"update writes max", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)},
			Pids: &specs.LinuxPids{Limit: i64(-1)}}, up, cgroup2.Resources{Pids: &cgroup2.Pids{Max: -1}},
			[]string{"memory.max=max", "memory.swap.max=max"}, []string{"memory", "pids"}},
		{"reservation", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(1 << 20)}}, v2State{},
			cgroup2.Resources{Memory: &cgroup2.Memory{Low: i64(1 << 20)}}, nil, []string{"memory"}},
		{"no reservation limit is max", &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: i64(-1)}}, v2State{},
			cgroup2.Resources{}, []string{"memory.low=max"}, []string{"memory"}},
		{"quota alone keeps the period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(30000)}},
			v2State{update: true, cpuMax: "20000 50000"}, cgroup2.Resources{CPU: &cgroup2.CPU{Max: "30000 50000"}}, nil, []string{"cpu"}},
		{"period alone keeps the quota", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(20000)}},
			v2State{update: true, cpuMax: "max 100000"}, cgroup2.Resources{CPU: &cgroup2.CPU{Max: "max 20000"}}, nil, []string{"cpu"}},
		{"cpu beyond cgroup2", &specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: u64(1000), Idle: i64(1), Cpus: "0"}}, v2State{},
			cgroup2.Resources{CPU: &cgroup2.CPU{Cpus: "0"}}, []string{"cpu.max.burst=1000", "cpu.idle=1"}, []string{"cpu", "cpuset"}},
		{"block I/O", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Weight: u16(10)}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Rate: 50}}}},
			v2State{}, cgroup2.Resources{IO: &cgroup2.IO{Max: []cgroup2.Entry{{Type: cgroup2.WriteIOPS, Major: 8, Rate: 50}}}},
			[]string{"io.bfq.weight=500|io.weight=4950", "io.bfq.weight=8:16 10|io.weight=8:16 1"}, []string{"io"}},
		{"hugepages", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "1GB", Limit: 1 << 30}}}, v2State{},
			cgroup2.Resources{HugeTlb: &cgroup2.HugeTlb{{HugePageSize: "1GB", Limit: 1 << 30}}},
			[]string{"hugetlb.1GB.rsvd.max=1073741824?"}, []string{"hugetlb"}},
		{"unified last, in name order", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(9)},
			Unified: map[string]string{"memory.high": "1M", "cgroup.max.descendants": "3"}}, v2State{},
			cgroup2.Resources{Pids: &cgroup2.Pids{Max: 9}},
			[]string{"cgroup.max.descendants=3", "memory.high=1M"}, []string{"memory", "pids"}},
		{"devices are not updated", &specs.LinuxResources{Devices: containerdDevices()}, up, cgroup2.Resources{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newPlanV2(tt.r, tt.st)
			if err != nil {
				t.Fatalf("newPlanV2() = %v", err)
			}
			if !reflect.DeepEqual(*p.lib, tt.lib) {
				t.Errorf("newPlanV2() lib = %s, want %s", show(*p.lib), show(tt.lib))
			}
			if got := opStrings(p.ops); !slices.Equal(got, tt.ops) {
				t.Errorf("newPlanV2() ops = %q, want %q", got, tt.ops)
			}
			if got := needs(p.need); !slices.Equal(got, tt.need) {
				t.Errorf("newPlanV2() needs %q, want %q", got, tt.need)
			}
		})
	}
}

// show prints resources with their pointers followed.
func show(r cgroup2.Resources) string {
	var b strings.Builder
	for _, v := range r.Values() {
		b.WriteString(reflect.ValueOf(v).FieldByName("filename").String())
		b.WriteString("=")
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmtValue(v), "\n", " ")))
		b.WriteString(" ")
	}
	if len(r.Devices) > 0 {
		b.WriteString("devices…")
	}
	return "{" + strings.TrimSpace(b.String()) + "}"
}

func fmtValue(v cgroup2.Value) string {
	f := reflect.ValueOf(v).FieldByName("value")
	switch f.Kind() {
	case reflect.String:
		return f.String()
	case reflect.Int64:
		return itoa(f.Int())
	case reflect.Uint64, reflect.Uint16:
		return itoa(int64(f.Uint()))
	}
	return f.Kind().String()
}

func TestPlanV2Refuses(t *testing.T) {
	tests := []struct {
		r     *specs.LinuxResources
		field string
	}{
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}, "memory.swappiness"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64(1 << 20)}}, "memory.kernelTCP"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}}, "memory.disableOOMKiller"},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{UseHierarchy: boolp(false)}}, "memory.useHierarchy"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}, "cpu.realtimeRuntime"},
		{&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: u64(1000)}}, "cpu.realtimePeriod"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(100)}}, "blockIO.leafWeight"},
		{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LeafWeight: u16(100)}}}},
			"blockIO.weightDevice.leafWeight"},
		{&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}}, "linux.resources.network.classID"},
		{&specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo"}}}}, "network.priorities"},
	}
	for _, tt := range tests {
		_, err := newPlanV2(tt.r, v2State{swap: true})
		if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("newPlanV2(%s) = %v, want ErrNotSupported naming it", tt.field, err)
		}
	}
}
