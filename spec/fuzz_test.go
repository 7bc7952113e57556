package spec

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics Parse or OCI, and that every error
// is one line wrapping ErrInvalidSpec.
func FuzzParse(f *testing.F) {
	seeds := []string{
		designExample,
		`{"process": {"args": ["x"]}}`,
		withArgs(`"mounts": [{"type": "tmpfs", "destination": "/a", "size": "1.5k", "mode": "0755"}, {"source": "src", "destination": "/b", "writable": true}]`),
		withArgs(`"share": {"user": true, "uts": true, "network": true}, "hostname": "h"`),
		withArgs(`"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}], "capabilities": ["net_raw", "CAP_SYS_ADMIN"]`),
		withArgs(`"seccomp": "allow.json", "limits": {"cpus": 0.5, "pids": 3, "memory": 4096, "timeout": "1s", "openFiles": 8}`),
		withArgs(`"seccomp": "typo.json"`),
		"{\n  \"a\": 1,\n  \"b\":x\n}",
		`[]`, `null`, `{"process": null}`, `{"process": {"args": [1]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	dir := testDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("spec.json", data, dir)
		if err != nil {
			checkError(t, data, err)
			return
		}
		if _, _, err := s.OCI(host); err != nil {
			checkError(t, data, err)
		}
	})
}

func checkError(t *testing.T, data []byte, err error) {
	if !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("Parse(%q) = %v, which does not wrap ErrInvalidSpec", data, err)
	}
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("Parse(%q) = %q, which is not one line", data, err)
	}
}
