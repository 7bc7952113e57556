package main

import (
	"encoding/json"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"sbx.dev/sbx/runtime"
	"sbx.dev/sbx/seccomp"
	"sbx.dev/sbx/spec"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "print what this runtime supports, as OCI features.json",
		Action: oci(func(c *cli.Context) error {
			b, err := json.MarshalIndent(runtimeFeatures(), "", "  ")
			if err != nil {
				return err
			}
			_, err = c.App.Writer.Write(append(b, '\n'))
			return err
		}),
	}
}

// runtimeFeatures says what sbx honours; what it refuses is reported false
// or left out (containerd turns on user namespaces and idmap mounts only
// from here). Unlike runc's, two answers depend on the caller and the host,
// because sbx refuses the field otherwise: id-mapped mounts need root, and
// process.apparmorProfile a host with AppArmor enabled.
func runtimeFeatures() *features.Features {
	yes, no := true, false
	idmap := idmapEnabled()
	apparmor := runtime.AppArmorEnabled()
	modes, flags := runtime.MemoryPolicies()
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOptions(idmap),
		Linux: &features.Linux{
			Namespaces:      []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities:    spec.CapabilityNames(),
			Cgroup:          &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes},
			Seccomp:         seccompFeatures(),
			Apparmor:        &features.Apparmor{Enabled: &apparmor},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MemoryPolicy:    &features.MemoryPolicy{Modes: modes, Flags: flags},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &idmap}},
			NetDevices:      &features.NetDevices{Enabled: &no},
		},
	}
}

// idmapEnabled reports whether the caller may ask for id-mapped mounts:
// namespaces.IDMapped refuses them unless sbx runs as root. The kernel
// side, mount_setattr(2) (Linux 5.12), every mount of sbx needs anyway.
func idmapEnabled() bool { return os.Geteuid() == 0 }

// seccompFeatures is what seccomp.Compile takes (SCMP_ACT_NOTIFY with a
// listenerPath included). SupportedFlags is left out (unknown): which of
// the flags the running kernel takes is found only when the filter is
// loaded.
func seccompFeatures() *features.Seccomp {
	yes := true
	actions, ops, arches := seccomp.Known()
	return &features.Seccomp{Enabled: &yes, Actions: actions, Operators: ops, Archs: arches, KnownFlags: seccomp.KnownFlags()}
}

// mountOptions are the options namespaces.Setup takes (options_linux.go);
// "idmap" and "ridmap" only when the caller may use them (idmapEnabled).
func mountOptions(idmap bool) []string {
	opts := []string{
		"bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
		"noatime", "relatime", "strictatime", "nodiratime", "diratime", "nosymfollow", "symfollow",
		"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
		"rnoatime", "rrelatime", "rstrictatime", "rnodiratime", "rdiratime", "rnosymfollow", "rsymfollow",
		"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
		"defaults",
	}
	if idmap {
		opts = append(opts, "idmap", "ridmap")
	}
	return opts
}
