// Package seccomp turns OCI seccomp profiles (specs.LinuxSeccomp) into
// classic-BPF programs, and provides sbx's default profile.
//
// The same compiler serves both sbx modes: the sandbox mode uses Default()
// (or a profile read with Load), the OCI runtime compiles linux.seccomp from
// config.json. Compile (Linux only) builds the program with libseccomp and
// returns it as a Filter: the instructions, the seccomp(2) flags and the
// listener path. DefaultFilter returns Default() compiled when sbx was built
// (go generate ./seccomp), on amd64 and arm64, sparing the 10-30 ms
// libseccomp takes. Installing a filter is the caller's job, in the child
// between clone and exec, with seccomp(SECCOMP_SET_MODE_FILTER,
// Filter.Flags, &prog).
//
// Profiles follow OCI runtime-spec semantics (config-linux.md, "seccomp"),
// as runc implements them:
//
//   - errnoRet and defaultErrnoRet default to EPERM and are accepted only
//     with SCMP_ACT_ERRNO and SCMP_ACT_TRACE.
//   - Conditions of one rule are ANDed, unless two of them test the same
//     argument: then each condition becomes a rule of its own (ORed), which
//     is what runc does and what existing profiles rely on.
//   - A syscall name libseccomp cannot resolve is skipped: profiles list
//     syscalls of every architecture and kernel version.
//   - A rule whose action equals the default action is skipped, because
//     libseccomp refuses it (it cannot carve an exception out of another
//     rule for the same syscall; write the allowed cases as ALLOW rules).
//   - A rule using SCMP_ACT_NOTIFY adds SECCOMP_FILTER_FLAG_NEW_LISTENER.
//
// What it refuses: unknown fields in a profile file, unknown action,
// operator, architecture or flag names, argument indexes above 5, errnoRet
// with an action that has no errno, an errno above 4094 (libseccomp's
// limit), SCMP_ACT_NOTIFY as the default action, listenerMetadata without
// listenerPath, and programs longer than the kernel's 4096 instructions. Every such error wraps ErrInvalidProfile and
// names the field: `syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
//
// It never loads a filter into the calling process: seccomp is per-thread
// state and the runtime must stay unconfined (DESIGN.md, principle 6).
//
// On platforms other than Linux only Load and the error types exist, so
// that platform-neutral spec code can read and check profile files.
package seccomp
