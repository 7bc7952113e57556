package runtime

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"sbx.dev/sbx/spawn"
)

func TestCheckSysctl(t *testing.T) {
	all := uintptr(spawn.AllNamespaces)
	for _, tc := range []struct {
		key    string
		listed uintptr
		want   string // "" for accepted
	}{
		{"net.ipv4.ip_forward", all, ""},
		{"fs.mqueue.msg_max", all, ""},
		{"kernel.shmmax", all, ""},
		{"kernel.hostname", all, ""},
		{"net.ipv4.ip_forward", all &^ spawn.NewNet, "needs a namespace"},
		{"kernel.sem", all &^ spawn.NewIPC, "needs a namespace"},
		{"vm.swappiness", all, "not namespaced"},
		{"kernel.pid_max", all, "not namespaced"},
	} {
		err := checkSysctl(map[string]string{tc.key: "1"}, tc.listed)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkSysctl(%s, %#x) = %v, want %q", tc.key, tc.listed, err, tc.want)
		}
	}
}

func TestRlimits(t *testing.T) {
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	got, err := rlimits([]specs.POSIXRlimit{{Type: "rlimit_nofile", Soft: 10, Hard: nofile.Max}})
	if err != nil || len(got) != 1 || got[0] != (spawn.Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: 10, Max: nofile.Max}) {
		t.Errorf("rlimits(RLIMIT_NOFILE 10/%d) = %+v, %v", nofile.Max, got, err)
	}
	for _, tc := range []struct {
		r    specs.POSIXRlimit
		want string
	}{
		{specs.POSIXRlimit{Type: "RLIMIT_TEST", Soft: 1, Hard: 1}, "unknown limit"},
		{specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}, "above hard limit"},
	} {
		if _, err := rlimits([]specs.POSIXRlimit{tc.r}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rlimits(%+v) = %v, want an error saying %q", tc.r, err, tc.want)
		}
	}
	if nofile.Max != unix.RLIM_INFINITY {
		r := specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1, Hard: nofile.Max + 1}
		if _, err := rlimits([]specs.POSIXRlimit{r}); err == nil || !strings.Contains(err.Error(), "cannot raise") {
			t.Errorf("rlimits(%+v) above our own hard limit = %v, want a refusal", r, err)
		}
	}
}

func TestCheckTimeOffsets(t *testing.T) {
	time := []specs.LinuxNamespace{{Type: specs.TimeNamespace}}
	for _, tc := range []struct {
		name    string
		ns      []specs.LinuxNamespace
		offsets map[string]specs.LinuxTimeOffset
		want    string
	}{
		{"none", nil, nil, ""},
		{"both clocks", time, map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}, "monotonic": {Secs: -1, Nanosecs: 999999999}}, ""},
		{"no time namespace", nil, map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}, "no time namespace"},
		{"joined", []specs.LinuxNamespace{{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"}}, map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}, "joins an existing"},
		{"realtime", time, map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}, "unknown clock"},
		{"nanoseconds", time, map[string]specs.LinuxTimeOffset{"monotonic": {Nanosecs: 1e9}}, "not below"},
	} {
		err := checkTimeOffsets(&specs.Linux{Namespaces: tc.ns, TimeOffsets: tc.offsets})
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: checkTimeOffsets = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestListMask(t *testing.T) {
	for list, want := range map[string][]byte{
		"0":       {1, 0, 0, 0, 0, 0, 0, 0},
		"0-3,7":   {0x8f, 0, 0, 0, 0, 0, 0, 0},
		"1, 64":   {2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		"8-9":     {0, 3, 0, 0, 0, 0, 0, 0},
		"":        nil,
		"3-1":     nil,
		"a":       nil,
		"0-":      nil,
		"70000":   nil,
		"1,,2":    nil,
		"0-3,7-x": nil,
	} {
		got, err := listMask(list)
		if want == nil {
			if err == nil {
				t.Errorf("listMask(%q) = %v, want an error", list, got)
			}
			continue
		}
		if err != nil || string(got) != string(want) {
			t.Errorf("listMask(%q) = %v, %v; want %v", list, got, err, want)
		}
	}
}

func TestSchedAttr(t *testing.T) {
	b, err := schedAttr(&specs.Scheduler{Policy: specs.SchedDeadline, Nice: -3, Priority: 7,
		Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagDLOverrun}, Runtime: 1, Deadline: 2, Period: 3})
	if err != nil {
		t.Fatal(err)
	}
	var want [56]byte
	want[0], want[4], want[8] = 56, 6, 0x05
	copy(want[16:], []byte{0xfd, 0xff, 0xff, 0xff, 7})
	want[24], want[32], want[40] = 1, 2, 3
	if string(b) != string(want[:]) {
		t.Errorf("schedAttr = %v, want %v", b, want)
	}
	if _, err := schedAttr(&specs.Scheduler{Policy: "SCHED_FAST"}); err == nil || !strings.Contains(err.Error(), "process.scheduler.policy") {
		t.Errorf("unknown policy: %v", err)
	}
	if _, err := schedAttr(&specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_NOPE"}}); err == nil || !strings.Contains(err.Error(), "process.scheduler.flags[0]") {
		t.Errorf("unknown flag: %v", err)
	}
}
