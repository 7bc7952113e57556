package seccomp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeProfile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	path := writeProfile(t, `{
		"defaultAction": "SCMP_ACT_ERRNO",
		"defaultErrnoRet": 38,
		"architectures": ["SCMP_ARCH_X86_64"],
		"flags": ["SECCOMP_FILTER_FLAG_LOG"],
		"syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"names": ["fchmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
			 "args": [{"index": 1, "op": "SCMP_CMP_MASKED_EQ", "value": 2048, "valueTwo": 2048}]}
		]
	}`)
	errno38, errno18 := uint(38), uint(18)
	want := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &errno38,
		Architectures:   []specs.Arch{specs.ArchX86_64},
		Flags:           []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"fchmod"}, Action: specs.ActErrno, ErrnoRet: &errno18,
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpMaskedEqual, Value: 2048, ValueTwo: 2048}}},
		},
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load() = %+v, want %+v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"syntax", "{\n  \"defaultAction\": ,\n}", `line 2, column 20: invalid character ','`},
		{"empty", "", "empty document"},
		{"trailing data", `{"defaultAction": "SCMP_ACT_ALLOW"} {}`, "data after the JSON document"},
		{"null document", `null`, "null, want an object"},
		{"unknown field", `{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrno": "EPERM"}`, "defaultErrno: unknown field"},
		{"wrong case", `{"DefaultAction": "SCMP_ACT_ALLOW"}`, "DefaultAction: unknown field"},
		{"nested unknown field", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "vlaue": 1}]}]}`,
			"syscalls[1].args[0].vlaue: unknown field"},
		{"docker extension", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}`,
			"syscalls[0].includes: unknown field"},
		{"string for array", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]}`,
			"syscalls[0].names: a string, want an array"},
		{"number for string", `{"defaultAction": 1}`, "defaultAction: a number, want a string"},
		{"null for string", `{"defaultAction": null}`, "defaultAction: null, want a string"},
		{"negative index", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": -1, "op": "SCMP_CMP_EQ", "value": 1}]}]}`,
			"syscalls[0].args[0].index: -1 is not an unsigned 64-bit integer"},
		{"fractional value", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1.5}]}]}`,
			"syscalls[0].args[0].value: 1.5 is not an unsigned 64-bit integer"},
		{"value too large", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 18446744073709551616}]}]}`,
			"syscalls[0].args[0].value: 18446744073709551616 is not an unsigned 64-bit integer"},
		{"missing default action", `{}`, "defaultAction: missing"},
		{"unknown action", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["read"], "action": "SCMP_ACT_ERRNO"}, {"names": ["write"], "action": "SCMP_ACT_FOO"}]}`,
			`syscalls[1].action: unknown action "SCMP_ACT_FOO"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProfile(t, tt.content)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) error = nil, want %q", tt.name, tt.want)
			}
			if want := path + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load(%s) error = %q, want prefix %q", tt.name, err, want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%s) error = %q, want it to contain %q", tt.name, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidProfile) {
				t.Errorf("errors.Is(Load(%s) error, ErrInvalidProfile) = false, want true", tt.name)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.json")
	_, err := Load(path)
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalidProfile) {
		t.Errorf("Load(missing) error = %v, want a not-exist error that is not ErrInvalidProfile", err)
	}
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("Load(missing) error = %q, want it to name %s", err, path)
	}
}
