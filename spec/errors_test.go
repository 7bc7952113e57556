package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testDir makes a spec directory holding a directory "src", a file
// "file.txt" and seccomp profiles "allow.json", "typo.json", "action.json".
func testDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"file.txt":    "x",
		"allow.json":  `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]}`,
		"typo.json":   `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"nmes": ["kexec_load"]}]}`,
		"action.json": `{"defaultAction": "SCMP_ACT_ALOW"}`,
		"syntax.json": "{\n\"defaultAction\" 1}",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withArgs puts rest after a valid process in a spec object.
func withArgs(rest string) string {
	if rest == "" {
		return `{"process": {"args": ["x"]}}`
	}
	return `{"process": {"args": ["x"]}, ` + rest + `}`
}

func TestParseErrors(t *testing.T) {
	dir := testDir(t)
	tests := []struct {
		name, spec, want string
	}{
		// Decoding.
		{"unknown field with hint", withArgs(`"mounts": [{"type": "tmpfs", "destination": "/a"}, {"source": ".", "destinaton": "/b"}]`),
			`spec.json: mounts[1].destinaton: unknown field; did you mean "destination"?`},
		{"unknown field without hint", withArgs(`"bogus": 1`), `spec.json: bogus: unknown field`},
		{"wrong case", `{"Process": {"args": ["x"]}}`, `spec.json: Process: unknown field; did you mean "process"?`},
		{"odd key stays one line", withArgs(`"a\nb": 1`), `spec.json: ["a\nb"]: unknown field`},
		{"duplicate field", `{"process": {"args": ["x"], "args": ["y"]}}`, `spec.json: process.args: duplicate field`},
		{"number for string", `{"process": {"args": ["x"], "cwd": 1}}`, `spec.json: process.cwd: expected a string, got number`},
		{"string for number", withArgs(`"limits": {"pids": "many"}`), `spec.json: limits.pids: expected a number, got string`},
		{"null for string", `{"process": {"args": [null]}}`, `spec.json: process.args[0]: expected a string, got null`},
		{"object for array", `{"process": {"args": {}}}`, `spec.json: process.args: expected an array, got object`},
		{"array for document", `[]`, `spec.json: expected an object, got array`},
		{"fraction for integer", withArgs(`"limits": {"pids": 1.5}`), `spec.json: limits.pids: expected an integer, got 1.5`},
		{"uid out of range", `{"process": {"args": ["x"], "user": {"uid": 4294967296}}}`, `spec.json: process.user.uid: 4294967296 is out of range`},
		{"negative uid", `{"process": {"args": ["x"], "user": {"uid": -1}}}`, `spec.json: process.user.uid: must not be negative`},
		{"syntax", "{\n  \"a\": 1,\n  \"b\":x\n}", `spec.json: line 3, column 7: invalid character 'x' looking for beginning of value`},
		{"truncated", "{\n\"process\":", `spec.json: line 2, column 11: unexpected end of JSON input`},
		{"empty", "", `spec.json: line 1, column 1: unexpected end of JSON input`},
		{"trailing", "{}\n{}", `spec.json: line 2, column 1: invalid character '{' after top-level value`},

		// Process.
		{"no args", `{"process": {"args": []}}`, `spec.json: process.args: must not be empty`},
		{"no process", `{}`, `spec.json: process.args: must not be empty`},
		{"empty argv0", `{"process": {"args": [""]}}`, `spec.json: process.args[0]: must not be empty`},
		{"NUL in arg", `{"process": {"args": ["x", "a\u0000b"]}}`, `spec.json: process.args[1]: must not contain a NUL byte`},
		{"env without =", `{"process": {"args": ["x"], "env": ["A=1", "B"]}}`, `spec.json: process.env[1]: "B" is not KEY=VALUE`},
		{"relative cwd", `{"process": {"args": ["x"], "cwd": "src"}}`, `spec.json: process.cwd: must be an absolute path`},

		// Root.
		{"root missing", withArgs(`"root": {"path": "nope"}`), `spec.json: root.path: "nope": no such file or directory`},
		{"root is a file", withArgs(`"root": {"path": "file.txt"}`), `spec.json: root.path: "file.txt": not a directory`},
		{"root empty", withArgs(`"root": {}`), `spec.json: root.path: must not be empty`},

		// Mounts.
		{"relative destination", withArgs(`"mounts": [{"source": ".", "destination": "src"}]`), `spec.json: mounts[0].destination: must be an absolute path`},
		{"dotdot destination", withArgs(`"mounts": [{"source": ".", "destination": "/a/../b"}]`), `spec.json: mounts[0].destination: must not contain ".."`},
		{"root destination", withArgs(`"mounts": [{"source": ".", "destination": "/"}]`), `spec.json: mounts[0].destination: must not be "/"; set root instead`},
		{"missing source", withArgs(`"mounts": [{"source": "/nope", "destination": "/a"}]`), `spec.json: mounts[0].source: "/nope": no such file or directory`},
		{"missing relative source", withArgs(`"mounts": [{"source": "nope", "destination": "/a"}]`), `spec.json: mounts[0].source: "nope": no such file or directory`},
		{"unknown type", withArgs(`"mounts": [{"type": "nfs", "destination": "/a"}]`), `spec.json: mounts[0].type: unknown mount type "nfs"; want "bind" or "tmpfs"`},
		{"tmpfs with source", withArgs(`"mounts": [{"type": "tmpfs", "source": ".", "destination": "/a"}]`), `spec.json: mounts[0].source: must not be set for a tmpfs mount`},
		{"bind without source", withArgs(`"mounts": [{"destination": "/a"}]`), `spec.json: mounts[0].source: must be set for a bind mount; for an empty directory use "type": "tmpfs"`},
		{"bind with size", withArgs(`"mounts": [{"source": ".", "destination": "/a", "size": "1M"}]`), `spec.json: mounts[0].size: only a tmpfs mount has a size`},
		{"bad mode", withArgs(`"mounts": [{"type": "tmpfs", "destination": "/a", "mode": "999"}]`), `spec.json: mounts[0].mode: cannot parse mode "999"; want octal, like "1777"`},
		{"zero size", withArgs(`"mounts": [{"type": "tmpfs", "destination": "/a", "size": 0}]`), `spec.json: mounts[0].size: must be positive`},
		{"duplicate destination", withArgs(`"mounts": [{"type": "tmpfs", "destination": "/a"}, {"source": ".", "destination": "/a/"}]`),
			`spec.json: mounts[1].destination: "/a/" is also mounts[0].destination`},

		// Hostname.
		{"hostname with shared uts", withArgs(`"share": {"uts": true}, "hostname": "h"`), `spec.json: hostname: must not be set when share.uts is true`},
		{"empty hostname", withArgs(`"hostname": ""`), `spec.json: hostname: must not be empty`},
		{"long hostname", withArgs(`"hostname": "` + strings.Repeat("h", 65) + `"`), `spec.json: hostname: must be at most 64 bytes`},

		// Limits.
		{"bad size", withArgs(`"limits": {"memory": "2XB"}`), `spec.json: limits.memory: cannot parse size "2XB"`},
		{"negative size", withArgs(`"limits": {"memory": "-1G"}`), `spec.json: limits.memory: cannot parse size "-1G": must not be negative`},
		{"size of wrong type", withArgs(`"limits": {"memory": true}`), `spec.json: limits.memory: expected a string or a number, got boolean`},
		{"negative pids", withArgs(`"limits": {"pids": -1}`), `spec.json: limits.pids: must not be negative`},
		{"zero pids", withArgs(`"limits": {"pids": 0}`), `spec.json: limits.pids: must be at least 1`},
		{"zero cpus", withArgs(`"limits": {"cpus": 0}`), `spec.json: limits.cpus: must be positive`},
		{"negative cpus", withArgs(`"limits": {"cpus": -1.5}`), `spec.json: limits.cpus: must be positive`},
		{"tiny cpus", withArgs(`"limits": {"cpus": 0.001}`), `spec.json: limits.cpus: must be at least 0.01`},
		{"huge cpus", withArgs(`"limits": {"cpus": 1e300}`), `spec.json: limits.cpus: must be at most 1048576`},
		{"bad timeout", withArgs(`"limits": {"timeout": "ten"}`), `spec.json: limits.timeout: cannot parse duration "ten"`},
		{"negative timeout", withArgs(`"limits": {"timeout": "-1s"}`), `spec.json: limits.timeout: must not be negative`},
		{"numeric timeout", withArgs(`"limits": {"timeout": 10}`), `spec.json: limits.timeout: expected a string, got number`},
		{"zero openFiles", withArgs(`"limits": {"openFiles": 0}`), `spec.json: limits.openFiles: must be at least 1`},

		// Seccomp.
		{"missing seccomp", withArgs(`"seccomp": "x.json"`), `spec.json: seccomp: "x.json": no such file or directory`},
		{"seccomp not a file", withArgs(`"seccomp": "src"`), `spec.json: seccomp: "src": not a regular file`},
		{"seccomp unknown field", withArgs(`"seccomp": "typo.json"`), `spec.json: seccomp: "typo.json": syscalls[0].nmes: unknown field; did you mean "names"?`},
		{"seccomp unknown action", withArgs(`"seccomp": "action.json"`), `spec.json: seccomp: "action.json": defaultAction: unknown action "SCMP_ACT_ALOW"`},
		{"seccomp syntax", withArgs(`"seccomp": "syntax.json"`), `spec.json: seccomp: "syntax.json": line 2, column 17: invalid character '1' after object key`},

		// Capabilities.
		{"unknown capability", withArgs(`"capabilities": ["CAP_NET_BIND_SERVIC"]`), `spec.json: capabilities[0]: unknown capability "CAP_NET_BIND_SERVIC"; did you mean "CAP_NET_BIND_SERVICE"?`},
		{"unknown capability, no hint", withArgs(`"capabilities": ["fly"]`), `spec.json: capabilities[0]: unknown capability "fly"`},
		{"duplicate capability", withArgs(`"capabilities": ["CAP_KILL", "kill"]`), `spec.json: capabilities[1]: CAP_KILL is also capabilities[0]`},

		// ID mappings.
		{"mappings with shared user", withArgs(`"share": {"user": true}, "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]`),
			`spec.json: uidMappings: must not be set when share.user is true`},
		{"empty range", withArgs(`"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}]`), `spec.json: uidMappings[0].size: must be at least 1`},
		{"overlapping ranges", withArgs(`"gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 5, "hostID": 5000, "size": 10}]`),
			`spec.json: gidMappings[1]: overlaps gidMappings[0]`},
		{"range past 32 bits", withArgs(`"uidMappings": [{"containerID": 4294967295, "hostID": 1000, "size": 2}]`), `spec.json: uidMappings[0]: range goes past id 4294967295`},
		{"user not mapped", `{"process": {"args": ["x"], "user": {"uid": 1000}}, "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 1000}]}`,
			`spec.json: process.user.uid: 1000 is not mapped by uidMappings`},
		// A huge key is shown by its start: the line was megabytes long.
		{"huge unknown key", `{"process": {"args": ["x"]}, "` + strings.Repeat("k", 100000) + `": 1}`,
			`spec.json: ["` + strings.Repeat("k", 64) + `…"]: unknown field`},
		// Too little memory to start under: the OOM killer took sbx too.
		{"memory below 6MiB", withArgs(`"limits": {"memory": "1MiB"}`),
			`spec.json: limits.memory: must be at least 6MiB: until it execs, the sandbox's process shares sbx's memory, and an out-of-memory kill then ends sbx too`},
		{"pids above PID_MAX_LIMIT", withArgs(`"limits": {"pids": 10000000}`), `spec.json: limits.pids: must be at most 4194304 (the kernel's PID_MAX_LIMIT)`},
		// (uid_t)-1 is "unchanged" to setresuid(2): the process stayed root.
		{"uid -1", `{"process": {"args": ["x"], "user": {"uid": 4294967295}}, "share": {"user": true}}`,
			`spec.json: process.user.uid: 4294967295 is not a valid id (to setresuid(2) it means "unchanged")`},
		{"gid -1", `{"process": {"args": ["x"], "user": {"gid": 4294967295}}, "share": {"user": true}}`,
			`spec.json: process.user.gid: 4294967295 is not a valid id (to setresgid(2) it means "unchanged")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("spec.json", []byte(tt.spec), dir)
			if err == nil {
				t.Fatalf("Parse(%s) = nil error, want %q", tt.spec, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%s) = %q, want %q", tt.spec, got, tt.want)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Parse(%s) = %v, which does not wrap ErrInvalidSpec", tt.spec, err)
			}
		})
	}
}

func TestParseErrorCause(t *testing.T) {
	spec := withArgs(`"mounts": [{"source": "/nope", "destination": "/a"}]`)
	_, err := Parse("spec.json", []byte(spec), t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Parse(%s) = %v, want an error wrapping fs.ErrNotExist", spec, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Field != "mounts[0].source" {
		t.Errorf("Parse(%s) = %#v, want an *Error with Field mounts[0].source", spec, err)
	}
}

func TestLoadMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.json")
	_, err := Load(p)
	want := p + ": no such file or directory"
	if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%q) = %v, want %q wrapping ErrInvalidSpec and fs.ErrNotExist", p, err, want)
	}
}

func TestHint(t *testing.T) {
	known := []string{"network", "pid", "ipc", "uts", "cgroup", "time", "user"}
	tests := []struct{ name, want string }{
		{"netwrk", `; did you mean "network"?`},
		{"pids", `; did you mean "pid"?`},
		{"USER", `; did you mean "user"?`},
		{"mount", ""},
		{"", ""},
		{strings.Repeat("x", 10000), ""},
	}
	for _, tt := range tests {
		if got := hint(tt.name, known); got != tt.want {
			t.Errorf("hint(%.20q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
