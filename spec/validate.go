package spec

import (
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxIDRanges is the most lines a uid_map or gid_map may have since
// Linux 4.15 (user_namespaces(7)).
const maxIDRanges = 340

// validate checks s, stats the paths it names and loads the seccomp profile
// it names, if any. It changes nothing, so it can check a Sandbox built in
// Go as well as one from Parse.
func (s *Sandbox) validate() (*specs.LinuxSeccomp, error) {
	checks := []func() error{
		s.checkProcess, s.checkRoot, s.checkMounts, s.checkHostname,
		s.checkLimits, s.checkCapabilities, s.checkMappings,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return s.seccompProfile()
}

// normalize makes s say explicitly what it implies: absolute host paths,
// clean destinations, bind types, "CAP_" names. It runs after validate.
func (s *Sandbox) normalize() {
	if s.Root != nil {
		s.Root.Path = s.resolve(s.Root.Path)
	}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		m.Type = m.kind()
		if m.Type == "bind" {
			m.Source = s.resolve(m.Source)
		}
		m.Destination = path.Clean(m.Destination)
	}
	if s.seccompFile() {
		s.Seccomp = s.resolve(s.Seccomp)
	}
	for i, c := range s.Capabilities {
		s.Capabilities[i] = canonicalCapability(c)
	}
}

// fail returns an *Error about field of s.
func (s *Sandbox) fail(field, format string, args ...any) error {
	return &Error{File: s.name(), Field: field, Problem: fmt.Sprintf(format, args...)}
}

// failPath returns an *Error about field, the path p, which err says
// cannot be used: `mounts[0].source: "/nope": no such file or directory`.
func (s *Sandbox) failPath(field, p string, err error) error {
	return &Error{File: s.name(), Field: field, Problem: strconv.Quote(p) + ": " + cause(err), Err: err}
}

func (s *Sandbox) name() string {
	if s.file == "" {
		return "sandbox"
	}
	return s.file
}

// resolve makes the host path p absolute, relative to the spec's directory.
func (s *Sandbox) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	if s.dir == "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return filepath.Join(s.dir, p)
}

func (s *Sandbox) checkProcess() error {
	p := s.Process
	if len(p.Args) == 0 {
		return s.fail("process.args", "must not be empty")
	}
	if p.Args[0] == "" {
		return s.fail("process.args[0]", "must not be empty")
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return s.fail(fmt.Sprintf("process.args[%d]", i), "must not contain a NUL byte")
		}
	}
	for i, e := range p.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" || strings.IndexByte(e, 0) >= 0 {
			return s.fail(fmt.Sprintf("process.env[%d]", i), "%q is not KEY=VALUE", e)
		}
	}
	if p.Cwd != "" {
		if problem := pathProblem(p.Cwd); problem != "" {
			return s.fail("process.cwd", "%s", problem)
		}
	}
	return nil
}

// pathProblem says what is wrong with p as a path inside the sandbox, or
// returns "".
func pathProblem(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case strings.IndexByte(p, 0) >= 0:
		return "must not contain a NUL byte"
	case !path.IsAbs(p):
		return "must be an absolute path"
	case strings.Contains("/"+p+"/", "/../"):
		return `must not contain ".."`
	}
	return ""
}

func (s *Sandbox) checkRoot() error {
	if s.Root == nil {
		return nil
	}
	if s.Root.Path == "" {
		return s.fail("root.path", "must not be empty")
	}
	return s.checkDir("root.path", s.Root.Path)
}

// checkDir checks that the host path p names a directory.
func (s *Sandbox) checkDir(field, p string) error {
	fi, err := os.Stat(s.resolve(p))
	if err != nil {
		return s.failPath(field, p, err)
	}
	if !fi.IsDir() {
		return s.fail(field, "%q: not a directory", p)
	}
	return nil
}

func (s *Sandbox) checkMounts() error {
	seen := make(map[string]int)
	for i, m := range s.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		if err := s.checkMount(field, m); err != nil {
			return err
		}
		dst := path.Clean(m.Destination)
		if j, dup := seen[dst]; dup {
			return s.fail(field+".destination", "%q is also mounts[%d].destination", m.Destination, j)
		}
		seen[dst] = i
	}
	return nil
}

// kind is the mount's type, "bind" when omitted.
func (m Mount) kind() string {
	if m.Type == "" {
		return "bind"
	}
	return m.Type
}

func (s *Sandbox) checkMount(field string, m Mount) error {
	if problem := pathProblem(m.Destination); problem != "" {
		return s.fail(field+".destination", "%s", problem)
	}
	if path.Clean(m.Destination) == "/" {
		return s.fail(field+".destination", `must not be "/"; set root instead`)
	}
	switch m.kind() {
	case "bind":
		return s.checkBind(field, m)
	case "tmpfs":
		return s.checkTmpfs(field, m)
	}
	return s.fail(field+".type", `unknown mount type %q; want "bind" or "tmpfs"`, m.Type)
}

func (s *Sandbox) checkBind(field string, m Mount) error {
	switch {
	case m.Source == "":
		return s.fail(field+".source", `must be set for a bind mount; for an empty directory use "type": "tmpfs"`)
	case m.Size != 0:
		return s.fail(field+".size", "only a tmpfs mount has a size")
	case m.Mode != "":
		return s.fail(field+".mode", "only a tmpfs mount has a mode")
	}
	if _, err := os.Stat(s.resolve(m.Source)); err != nil {
		return s.failPath(field+".source", m.Source, err)
	}
	return nil
}

func (s *Sandbox) checkTmpfs(field string, m Mount) error {
	if m.Source != "" {
		return s.fail(field+".source", "must not be set for a tmpfs mount")
	}
	if m.Size < 0 {
		return s.fail(field+".size", "must not be negative")
	}
	if m.Mode == "" {
		return nil
	}
	if mode, err := strconv.ParseUint(m.Mode, 8, 32); err != nil || mode > 0o7777 {
		return s.fail(field+".mode", `cannot parse mode %q; want octal, like "1777"`, m.Mode)
	}
	return nil
}

// checkHostname applies sethostname(2)'s limit of HOST_NAME_MAX (64) bytes.
func (s *Sandbox) checkHostname() error {
	switch h := s.Hostname; {
	case h == nil:
		return nil
	case s.Share.UTS:
		return s.fail("hostname", "must not be set when share.uts is true")
	case *h == "":
		return s.fail("hostname", "must not be empty")
	case len(*h) > 64:
		return s.fail("hostname", "must be at most 64 bytes")
	case strings.IndexByte(*h, 0) >= 0:
		return s.fail("hostname", "must not contain a NUL byte")
	}
	return nil
}

// checkLimits refuses limits the kernel would refuse or misread: a pids
// limit of 0 would stop the first process, and the CFS bandwidth
// controller refuses a quota under 1ms (kernel/sched/core.c,
// min_cfs_quota_period), which is 0.01 CPUs with our 100ms period.
func (s *Sandbox) checkLimits() error {
	l := s.Limits
	switch {
	case l.Memory < 0:
		return s.fail("limits.memory", "must not be negative")
	case l.Memory > 0 && l.Memory < minMemory:
		return s.fail("limits.memory", "must be at least 6MiB: until it execs, the sandbox's process shares sbx's memory, and an out-of-memory kill then ends sbx too")
	case l.Pids != nil && *l.Pids > maxPids:
		return s.fail("limits.pids", "must be at most %d (the kernel's PID_MAX_LIMIT)", maxPids)
	case l.Pids != nil && *l.Pids < 0:
		return s.fail("limits.pids", "must not be negative")
	case l.Pids != nil && *l.Pids == 0:
		return s.fail("limits.pids", "must be at least 1")
	case l.CPUs != nil && *l.CPUs <= 0:
		return s.fail("limits.cpus", "must be positive")
	case l.CPUs != nil && *l.CPUs < 0.01:
		return s.fail("limits.cpus", "must be at least 0.01")
	case l.CPUs != nil && *l.CPUs > maxCPUs:
		return s.fail("limits.cpus", "must be at most %d", maxCPUs)
	case l.Timeout < 0:
		return s.fail("limits.timeout", "must not be negative")
	case l.OpenFiles != nil && *l.OpenFiles == 0:
		return s.fail("limits.openFiles", "must be at least 1")
	}
	return nil
}

// minMemory is the least memory limit a sandbox can start under (Docker
// and podman refuse less too); maxPids is the kernel's PID_MAX_LIMIT, the
// most pids.max takes.
const (
	minMemory = 6 << 20
	maxPids   = 4 << 20
)

// maxCPUs bounds limits.cpus so the CFS quota stays far from overflow.
const maxCPUs = 1 << 20

func (s *Sandbox) checkCapabilities() error {
	seen := make(map[string]int)
	for i, c := range s.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		name := canonicalCapability(c)
		if !knownCapability(name) {
			return s.fail(field, "unknown capability %q%s", c, hint(name, linuxCapabilities))
		}
		if j, dup := seen[name]; dup {
			return s.fail(field, "%s is also capabilities[%d]", name, j)
		}
		seen[name] = i
	}
	return nil
}

func (s *Sandbox) checkMappings() error {
	if s.Share.User && len(s.UIDMappings) > 0 {
		return s.fail("uidMappings", "must not be set when share.user is true")
	}
	if s.Share.User && len(s.GIDMappings) > 0 {
		return s.fail("gidMappings", "must not be set when share.user is true")
	}
	if err := s.checkRanges("uidMappings", s.UIDMappings); err != nil {
		return err
	}
	if err := s.checkRanges("gidMappings", s.GIDMappings); err != nil {
		return err
	}
	// (uid_t)-1 is "unchanged" to setresuid(2) and setresgid(2).
	if s.Process.User.UID == math.MaxUint32 {
		return s.fail("process.user.uid", "%d is not a valid id (to setresuid(2) it means \"unchanged\")", s.Process.User.UID)
	}
	if s.Process.User.GID == math.MaxUint32 {
		return s.fail("process.user.gid", "%d is not a valid id (to setresgid(2) it means \"unchanged\")", s.Process.User.GID)
	}
	if !maps(s.UIDMappings, s.Process.User.UID) {
		return s.fail("process.user.uid", "%d is not mapped by uidMappings", s.Process.User.UID)
	}
	if !maps(s.GIDMappings, s.Process.User.GID) {
		return s.fail("process.user.gid", "%d is not mapped by gidMappings", s.Process.User.GID)
	}
	return nil
}

// checkRanges applies IDRangesProblem to a uid or gid map of the spec.
func (s *Sandbox) checkRanges(field string, ms []IDMapping) error {
	if f, problem := IDRangesProblem(field, ms); problem != "" {
		return s.fail(f, "%s", problem)
	}
	return nil
}

// IDRangesProblem applies the rules of user_namespaces(7) for writing a
// uid_map or gid_map to ms, the map at field: at most 340 ranges, none
// empty, none past id 4294967295, none overlapping another on either
// side. It returns the field at fault and the problem, or "" for none.
func IDRangesProblem(field string, ms []IDMapping) (string, string) {
	if len(ms) > maxIDRanges {
		return field, fmt.Sprintf("must have at most %d ranges", maxIDRanges)
	}
	for i, m := range ms {
		f := fmt.Sprintf("%s[%d]", field, i)
		if m.Size == 0 {
			return f + ".size", "must be at least 1"
		}
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return f, "range goes past id 4294967295"
		}
		for j, o := range ms[:i] {
			if overlap(m.ContainerID, o.ContainerID, m.Size, o.Size) || overlap(m.HostID, o.HostID, m.Size, o.Size) {
				return f, fmt.Sprintf("overlaps %s[%d]", field, j)
			}
		}
	}
	return "", ""
}

// overlap reports whether [a, a+na) and [b, b+nb) intersect.
func overlap(a, b, na, nb uint32) bool {
	return uint64(a) < uint64(b)+uint64(nb) && uint64(b) < uint64(a)+uint64(na)
}

// maps reports whether id is in the sandbox side of ms; no ms maps the
// sandbox user by default, so it maps every id asked about.
func maps(ms []IDMapping, id uint32) bool {
	if len(ms) == 0 {
		return true
	}
	for _, m := range ms {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}
