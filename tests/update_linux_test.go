package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestOCIUpdate changes the memory and pids limits of a running container
// the ways its callers do: containerd's shim with `update --resources=-`
// and the JSON on stdin, podman with `update --resources FILE`. An update
// sbx refuses, runc's per-limit flags among them (sbx has only
// --resources), fails with one message and leaves the limits as they were.
func TestOCIUpdate(t *testing.T) {
	o := newOCI(t)
	c := id("update")
	o.cleanup(c)
	mem, pids := int64(64<<20), int64(64)
	b := o.bundle(func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, Pids: &specs.LinuxPids{Limit: &pids}}
	}, "sleep", "1000")
	o.must("create", "--bundle", b, c)
	o.must("start", c)
	o.waitStatus(c, specs.StateRunning)
	pid := o.state(c).Pid
	memFile := cgroupFile(t, pid, "memory", "memory.limit_in_bytes", "memory.max")
	pidsFile := cgroupFile(t, pid, "pids", "pids.max", "pids.max")
	limits := func() string {
		t.Helper()
		var vs []string
		for _, f := range []string{memFile, pidsFile} {
			v, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("reading the container's limit: %v", err)
			}
			vs = append(vs, strings.TrimSpace(string(v)))
		}
		return strings.Join(vs, " ")
	}
	if got := limits(); got != "67108864 64" {
		t.Fatalf("limits after create (%s, %s) = %s, want 67108864 64", memFile, pidsFile, got)
	}
	resFile := func(json string) string {
		f := filepath.Join(t.TempDir(), "resources.json")
		if err := os.WriteFile(f, []byte(json), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}

	// A FIFO is refused, not read: it blocked update, holding the
	// container's lock, until something wrote to it.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	// Each case starts from these limits, so that one that fails does
	// not change what the next one sees.
	const base, baseJSON = "134217728 150", `{"memory":{"limit":134217728},"pids":{"limit":150}}`
	for _, tc := range []struct {
		name  string
		args  []string // before the id
		stdin string
		want  string // the limits after: memory and pids
		err   string // in the one line of stderr; "" for success
	}{
		{"stdin", []string{"--resources=-"}, `{"memory":{"limit":100663296},"pids":{"limit":100}}`, "100663296 100", ""},
		{"file", []string{"--resources", resFile(`{"memory":{"limit":67108864},"pids":{"limit":200}}`)}, "", "67108864 200", ""},
		{"short flag", []string{"-r", resFile(`{"pids":{"limit":300}}`)}, "", "134217728 300", ""},
		{"pids -1 lifts the limit", []string{"--resources=-"}, `{"pids":{"limit":-1}}`, "134217728 max", ""},
		{"runc --memory", []string{"--memory", "50M"}, "", base, "-memory"},
		{"runc --pids-limit", []string{"--pids-limit", "10"}, "", base, "-pids-limit"},
		{"no --resources", nil, "", base, "--resources is required"},
		{"invalid JSON", []string{"--resources=-"}, `{"memory":{"limit":`, base, "--resources -"},
		{"not an object", []string{"--resources=-"}, `[1]`, base, "--resources -"},
		{"trailing data", []string{"--resources=-"}, `{"pids":{"limit":20}}x`, base, "--resources -"},
		{"negative memory", []string{"--resources=-"}, `{"memory":{"limit":-5},"pids":{"limit":20}}`, base, "memory.limit"},
		{"negative pids", []string{"--resources=-"}, `{"memory":{"limit":33554432},"pids":{"limit":-7}}`, base, "pids.limit"},
		{"memory below use", []string{"--resources=-"}, `{"memory":{"limit":4096,"checkBeforeUpdate":true},"pids":{"limit":20}}`, base, "checkBeforeUpdate"},
		{"unknown field", []string{"--resources=-"}, `{"memroy":{"limit":33554432},"pids":{"limit":20}}`, base, "memroy"},
		{"missing file", []string{"--resources", "/no/such/resources.json"}, "", base, "/no/such/resources.json"},
		{"a FIFO", []string{"--resources", fifo}, "", base, "not a regular file"},
		// Docker sends every field, 0 where nothing was asked: 0 leaves a
		// value as it is, as under runc.
		{"docker's zeros", []string{"--resources=-"}, dockerZeros(0), base, ""},
		{"docker's zeros and a memory limit", []string{"--resources=-"}, dockerZeros(16 << 20), "16777216 150", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := &ociRuntime{t: t, root: o.root}
			if _, errs, code := sub.runStdin(baseJSON, "update", "--resources=-", c); code != 0 || limits() != base {
				t.Fatalf("update to %s: exit %d, %q, limits %s; want %s", baseJSON, code, errs, limits(), base)
			}
			_, errs, code := sub.runStdin(tc.stdin, append(append([]string{"update"}, tc.args...), c)...)
			msg := strings.TrimRight(errs, "\n")
			switch {
			case tc.err == "" && code != 0:
				t.Errorf("update %v: exit %d, stderr %q; want success", tc.args, code, errs)
			case tc.err != "" && (code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, tc.err)):
				t.Errorf("update %v: exit %d, stderr %q; want a failure with one line naming %q", tc.args, code, errs, tc.err)
			}
			if got := limits(); got != tc.want {
				t.Errorf("limits after update %v = %s, want %s", tc.args, got, tc.want)
			}
		})
	}

	t.Run("no such container", func(t *testing.T) {
		sub := &ociRuntime{t: t, root: o.root}
		_, errs, code := sub.runStdin(`{"pids":{"limit":10}}`, "update", "--resources=-", id("nope"))
		if code == 0 || !strings.Contains(errs, "does not exist") {
			t.Errorf("update of a missing container: exit %d, %q; want does not exist", code, errs)
		}
	})
}

// dockerZeros is the resources JSON `docker update --memory M` (M 0: any
// other flag) sends the runtime: every field, 0 where nothing was asked.
func dockerZeros(memory int64) string {
	return fmt.Sprintf(`{"memory":{"limit":%d,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},`+
		`"cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},`+
		`"blockIO":{"weight":0}}`, memory)
}

// runStdin is run with stdin as sbx's standard input, as containerd's shim
// gives `update --resources=-` its JSON. It is for commands that leave no
// process behind: their output is read through pipes.
func (o *ociRuntime) runStdin(stdin string, args ...string) (string, string, int) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.sbx, append([]string{"--root", o.root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		o.t.Fatalf("sbx %v did not return within a minute; killed it\nstderr: %s", args, errb.String())
	}
	return out.String(), errb.String(), exitCode(o.t, err, cmd)
}

// cgroupFile is the path of a file of process pid's cgroup: v1file in the
// controller's v1 hierarchy when the host has one (v1 or hybrid), else
// v2file in the v2 hierarchy. /proc/PID/cgroup lists the process's cgroups
// relative to the hierarchies' roots, where sbx's tests run.
func cgroupFile(t *testing.T, pid int, controller, v1file, v2file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	v2 := ""
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			v2 = f[2]
		} else if slices.Contains(strings.Split(f[1], ","), controller) {
			return filepath.Join("/sys/fs/cgroup", controller, f[2], v1file)
		}
	}
	mount := "/sys/fs/cgroup"
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
		mount = "/sys/fs/cgroup/unified"
	}
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil || v2 == "" {
		t.Fatalf("process %d has no %s cgroup:\n%s", pid, controller, b)
	}
	return filepath.Join(mount, v2, v2file)
}
