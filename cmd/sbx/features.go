package main

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

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

// runtimeFeatures says what sbx honours; what it refuses is left out
// (containerd turns on user namespaces and idmap mounts only from here).
func runtimeFeatures() *features.Features {
	yes, no := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOptions(),
		Linux: &features.Linux{
			Namespaces:      []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities:    spec.CapabilityNames(),
			Cgroup:          &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp:         seccompFeatures(),
			Apparmor:        &features.Apparmor{Enabled: &no},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}}, // root only
		},
	}
}

// seccompFeatures is what seccomp.Compile takes (SCMP_ACT_NOTIFY with a
// listenerPath included).
func seccompFeatures() *features.Seccomp {
	yes := true
	actions, ops, arches := seccomp.Known()
	return &features.Seccomp{Enabled: &yes, Actions: actions, Operators: ops, Archs: arches}
}

func mountOptions() []string {
	return []string{
		"bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
		"noatime", "relatime", "strictatime", "nodiratime", "diratime", "nosymfollow", "symfollow",
		"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
		"rnoatime", "rrelatime", "rstrictatime", "rnodiratime", "rdiratime", "rnosymfollow", "rsymfollow",
		"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
		"idmap", "ridmap", "defaults",
	}
}
