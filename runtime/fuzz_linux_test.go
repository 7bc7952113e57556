package runtime

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCommand: any config.json that decodes is turned into a spawn.Cmd
// or refused with an error; never a panic. (Nothing is started.)
func FuzzCommand(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0},
		"capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]},
		"root":{"path":"rootfs","readonly":true},"hostname":"x",
		"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]},
		{"destination":"/b","type":"bind","source":"/tmp","options":["rbind","ro","rprivate"]}],
		"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"user"}],
		"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],
		"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"devices":[{"path":"/dev/x","type":"c","major":1,"minor":3}],
		"sysctl":{"kernel.domainname":"a"},"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},
		"resources":{"memory":{"limit":1000000},"pids":{"limit":5}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s specs.Spec
		if json.Unmarshal(b, &s) != nil {
			return
		}
		if s.Linux != nil && s.Linux.Seccomp != nil {
			if _, err := compileSeccomp(s.Linux.Seccomp, ""); err != nil {
				return
			}
		}
		if _, release, err := command(&s, cmdOptions{container: true}); err == nil {
			release()
		}
	})
}
