package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runtimeDef is what the harness knows of a runtime. To time a new case,
// add it to the cases table and give each runtime that has it an iteration
// here; runtimes without it are skipped with the reason.
type runtimeDef struct {
	pkg     string // Debian package that has it
	notes   []string
	prepare func(r *runner) error // untimed, once, before the warm-up
	cases   map[string]iteration
}

var runtimeDefs = map[string]runtimeDef{
	"sbx": sbxDef(),
	"bwrap": {
		pkg:   "bubblewrap",
		notes: []string{"--unshare-all (user, pid, net, ipc, uts, cgroup, mount), read-only root; no cgroup limits and no seccomp filter: bubblewrap has neither"},
		cases: map[string]iteration{
			"run": func(r *runner, id string) error {
				return r.exec("", "--unshare-all", "--ro-bind", cfg.rootfs, "/", "--proc", "/proc", "--dev", "/dev",
					"--die-with-parent", "--new-session", "/bin/true")
			},
		},
	},
	"crun": ociDef("crun"),
	"runc": ociDef("runc"),
}

// sbxDef is sbx's entry: a sandbox spec for "run", and for "lifecycle"
// the OCI verbs on the same bundle as crun's and runc's.
func sbxDef() runtimeDef {
	oci := ociDef("sbx")
	return runtimeDef{
		notes: []string{"run: spec limits memory+pids; all 8 namespaces, default seccomp filter, read-only root (per sbx's defaults)",
			"lifecycle: the same `runc spec` bundle as crun and runc (no seccomp filter, memory + pids limits)"},
		prepare: func(r *runner) error {
			if err := oci.prepare(r); err != nil {
				return err
			}
			return writeSbxSpec(filepath.Join(cfg.work, "sbx-spec.json"))
		},
		cases: map[string]iteration{
			"run": func(r *runner, id string) error {
				return r.exec("run", "run", filepath.Join(cfg.work, "sbx-spec.json"))
			},
			"lifecycle": oci.cases["lifecycle"],
		},
	}
}

// ociDef is crun's or runc's entry: both take the same command line.
func ociDef(pkg string) runtimeDef {
	bundle := func() string { return filepath.Join(cfg.work, pkg+"-bundle") }
	state := func() string { return filepath.Join(cfg.work, pkg+"-state") }
	// cleanup removes what a failed iteration left; untimed in effect, as
	// failed iterations are not counted.
	cleanup := func(r *runner, id string, err error) error {
		if err != nil {
			r.quiet("--root", state(), "delete", "--force", id)
		}
		return err
	}
	return runtimeDef{
		pkg: pkg,
		notes: []string{"bundle from `runc spec` defaults: namespaces pid, net, ipc, uts, mount (no user, cgroup or time);" +
			" no seccomp filter; read-only root; memory (no swap) + pids cgroup limits"},
		prepare: func(r *runner) error {
			if err := os.MkdirAll(state(), 0o700); err != nil {
				return err
			}
			return writeBundle(bundle())
		},
		cases: map[string]iteration{
			"run": func(r *runner, id string) error {
				return cleanup(r, id, r.exec("run", "--root", state(), "run", "--bundle", bundle(), id))
			},
			"lifecycle": func(r *runner, id string) error {
				pidFile := filepath.Join(cfg.work, pkg+".pid")
				os.Remove(pidFile)
				err := r.exec("create", "--root", state(), "create", "--bundle", bundle(), "--pid-file", pidFile, id)
				if err != nil {
					return cleanup(r, id, err)
				}
				pid, err := readPid(pidFile)
				if err != nil {
					return cleanup(r, id, err)
				}
				if err := r.exec("start", "--root", state(), "start", id); err != nil {
					return cleanup(r, id, err)
				}
				t0 := time.Now()
				status, err := waitChild(pid)
				r.timeStep("wait", t0)
				if err != nil {
					return cleanup(r, id, err)
				}
				if status != 0 {
					return cleanup(r, id, fmt.Errorf("%s: container exited with status %d", pkg, status))
				}
				return cleanup(r, id, r.exec("delete", "--root", state(), "delete", id))
			},
		},
	}
}

// writeSbxSpec writes sbx's spec for /bin/true in the rootfs.
func writeSbxSpec(path string) error {
	mem := fmt.Sprint(cfg.limitMemory)
	if cfg.limitMemory%(1<<20) == 0 {
		mem = fmt.Sprintf("%dMiB", cfg.limitMemory>>20)
	}
	spec := map[string]any{
		"process": map[string]any{"args": []string{"/bin/true"}},
		"root":    map[string]any{"path": cfg.rootfs},
		"limits":  map[string]any{"memory": mem, "pids": cfg.limitPids},
	}
	return writeJSON(path, spec)
}

// writeBundle writes an OCI bundle for /bin/true: `runc spec`'s defaults
// with no terminal, the rootfs by absolute path and the cgroup limits.
func writeBundle(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	swap := cfg.limitMemory // memory+swap: no swap beyond the limit, as sbx
	limit := cfg.limitMemory
	s := specs.Spec{
		Version: "1.0.2",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: []string{"/bin/true"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: cfg.rootfs, Readonly: true},
		Hostname: "bench",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
				Memory:  &specs.LinuxMemory{Limit: &limit, Swap: &swap},
				Pids:    &specs.LinuxPids{Limit: &cfg.limitPids},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	return writeJSON(filepath.Join(dir, "config.json"), s)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
