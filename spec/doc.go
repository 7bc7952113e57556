// Package spec loads and validates the sandbox spec that `sbx run spec.json`
// reads, and converts it into the internal model the execution engine runs:
// an OCI runtime-spec *specs.Spec plus a small Policy for what OCI cannot say.
//
// # Strictness
//
// Load and Parse refuse, never ignore: an unknown or duplicated field, a
// value of the wrong JSON type, a size or duration that does not parse, a
// relative or ".." destination, a bind source or root that does not exist, an
// unknown capability, or a combination sbx cannot honour (a hostname with
// share.uts, id mappings with share.user) is an error. Every error is one
// line, "<file as given>: <field path>: <problem>", and wraps ErrInvalidSpec:
//
//	spec.json: mounts[1].destinaton: unknown field; did you mean "destination"?
//	spec.json: limits.memory: cannot parse size "2XB"
//	spec.json: line 3, column 7: invalid character 'x' looking for beginning of value
//
// # Isolation by default
//
// Sandbox.OCI creates every Linux namespace (user, pid, mount, network, ipc,
// uts, cgroup, time) except those the spec shares, masks and write-protects the
// /proc and /sys paths runc masks, mounts a fresh /proc and a minimal /dev,
// sets no_new_privs, and grants only the listed capabilities.
// The package decides nothing about the host: whether the kernel can create
// those namespaces is the engine's business, and the engine must fail, not
// degrade, when it cannot.
//
// # Extensions
//
// The field names of DESIGN.md are a contract: this package only adds to them.
//
//   - uidMappings, gidMappings (top level): arrays of
//     {"containerID", "hostID", "size"} for callers with subordinate ids
//     (subuid(5)). Omitted, the sandbox user (process.user, 0/0 by default)
//     maps to the caller's uid and gid, one id each.
//   - mounts[].mode: the octal mode of a tmpfs root directory, like "1777".
//   - Sizes (limits.memory, mounts[].size) may also be JSON numbers of bytes.
//
// The package reads the spec file and a named seccomp profile and stats the
// paths the spec names; it mounts, creates and changes nothing.
package spec
