package seccomp

import "slices"

// The default filter is compiled when sbx is built, because libseccomp takes
// 10-30 ms to compile Default(), more than the rest of a sandbox's start-up.
// The generator is a test (generate_linux_test.go), so that it can reach the
// compiler's internals. It writes default_linux_amd64.go,
// default_linux_arm64.go and default_linux_other.go, and must run again
// whenever the default profile, the compiler or the libseccomp version
// changes; TestDefaultFilter and TestGeneratedFiles fail until it has.
//
//go:generate go test -count=1 -run=^TestGeneratedFiles$ . -generate

// DefaultFilter returns Compile(Default()) without calling libseccomp, from
// the program compiled when sbx was built, on amd64 and arm64. On other
// architectures it compiles Default(). The caller owns the result.
func DefaultFilter() (*Filter, error) {
	if defaultProgram == nil {
		return Compile(Default())
	}
	return &Filter{Program: slices.Clone(defaultProgram), Flags: defaultFlags}, nil
}
