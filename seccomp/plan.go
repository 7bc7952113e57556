package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Filter flags of seccomp(2), from include/uapi/linux/seccomp.h. They are
// spelled out here because the plan is built on every platform.
const (
	flagTSYNC            uint = 1 << 0 // since Linux 3.17
	flagLog              uint = 1 << 1 // since Linux 4.14
	flagSpecAllow        uint = 1 << 2 // since Linux 4.17
	flagNewListener      uint = 1 << 3 // since Linux 5.0
	flagTSYNCESRCH       uint = 1 << 4 // since Linux 5.7
	flagWaitKillableRecv uint = 1 << 5 // since Linux 5.19
)

// filterFlags are the profile flags the OCI runtime-spec lists.
var filterFlags = map[specs.LinuxSeccompFlag]uint{
	"SECCOMP_FILTER_FLAG_TSYNC":            flagTSYNC,
	specs.LinuxSeccompFlagLog:              flagLog,
	specs.LinuxSeccompFlagSpecAllow:        flagSpecAllow,
	specs.LinuxSeccompFlagWaitKillableRecv: flagWaitKillableRecv,
}

const (
	// errnoEPERM is the errno of SCMP_ACT_ERRNO and SCMP_ACT_TRACE when the
	// profile gives none, as the runtime-spec says.
	errnoEPERM = 1
	// maxErrno is the largest errnoRet of SCMP_ACT_ERRNO. The kernel
	// returns up to MAX_ERRNO, 4095 (kernel/seccomp.c), but libseccomp
	// accepts only errnos below it (src/system.c, sys_chk_seccomp_action)
	// and fails with a misleading EINVAL otherwise.
	maxErrno = 4094
	// maxArg is the highest syscall argument index seccomp can inspect.
	maxArg = 5
)

// actionData gives, for every known action, the largest errnoRet it takes;
// -1 means the action takes none.
var actionData = map[specs.LinuxSeccompAction]int{
	specs.ActKill:        -1,
	specs.ActKillProcess: -1,
	specs.ActKillThread:  -1,
	specs.ActTrap:        -1,
	specs.ActErrno:       maxErrno,
	specs.ActTrace:       0xffff, // SECCOMP_RET_DATA, the tracer's message
	specs.ActAllow:       -1,
	specs.ActLog:         -1,
	specs.ActNotify:      -1,
}

var knownOps = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual:     true,
	specs.OpLessThan:     true,
	specs.OpLessEqual:    true,
	specs.OpEqualTo:      true,
	specs.OpGreaterEqual: true,
	specs.OpGreaterThan:  true,
	specs.OpMaskedEqual:  true,
}

var knownArches = map[specs.Arch]bool{
	specs.ArchX86: true, specs.ArchX86_64: true, specs.ArchX32: true,
	specs.ArchARM: true, specs.ArchAARCH64: true,
	specs.ArchMIPS: true, specs.ArchMIPS64: true, specs.ArchMIPS64N32: true,
	specs.ArchMIPSEL: true, specs.ArchMIPSEL64: true, specs.ArchMIPSEL64N32: true,
	specs.ArchPPC: true, specs.ArchPPC64: true, specs.ArchPPC64LE: true,
	specs.ArchS390: true, specs.ArchS390X: true,
	specs.ArchPARISC: true, specs.ArchPARISC64: true,
	specs.ArchRISCV64: true, specs.ArchLOONGARCH64: true,
	specs.ArchM68K: true, specs.ArchSH: true, specs.ArchSHEB: true,
}

// action is a validated action with its errno or trace message.
type action struct {
	name specs.LinuxSeccompAction
	data uint16 // errno for SCMP_ACT_ERRNO, message for SCMP_ACT_TRACE, else 0
}

// cond is a validated argument comparison.
type cond struct {
	index           uint
	op              specs.LinuxSeccompOperator
	value, valueTwo uint64
}

// rule is one libseccomp rule: names, an action and conditions to AND.
type rule struct {
	field  string // "syscalls[3]", for error messages
	names  []string
	action action
	conds  []cond
}

// plan is a validated profile, flattened into what libseccomp is told.
type plan struct {
	defaultAction action
	arches        []specs.Arch
	flags         uint
	listenerPath  string // set only when a rule uses SCMP_ACT_NOTIFY
	rules         []rule
}

// newPlan validates s and flattens it into a plan.
func newPlan(s *specs.LinuxSeccomp) (*plan, error) {
	if s == nil {
		return nil, invalid("", errors.New("no profile"))
	}
	def, err := checkAction("defaultAction", "defaultErrnoRet", s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	if def.name == specs.ActNotify {
		// The notifying process could not even send its listener fd out.
		return nil, invalid("defaultAction", errors.New("SCMP_ACT_NOTIFY cannot be the default action"))
	}
	p := &plan{defaultAction: def}
	if p.arches, err = checkArches(s.Architectures); err != nil {
		return nil, err
	}
	if p.flags, err = checkFlags(s.Flags); err != nil {
		return nil, err
	}
	for i, sc := range s.Syscalls {
		rules, err := newRules(fmt.Sprintf("syscalls[%d]", i), sc)
		if err != nil {
			return nil, err
		}
		p.rules = append(p.rules, rules...)
	}
	if err := p.setListener(s); err != nil {
		return nil, err
	}
	return p, nil
}

// checkAction validates an action name and its optional errno.
func checkAction(field, errnoField string, name specs.LinuxSeccompAction, errnoRet *uint) (action, error) {
	limit, ok := actionData[name]
	switch {
	case name == "":
		return action{}, invalid(field, errors.New("missing"))
	case !ok:
		return action{}, invalid(field, fmt.Errorf("unknown action %q", name))
	case errnoRet == nil && limit < 0:
		return action{name: name}, nil
	case errnoRet == nil:
		return action{name: name, data: errnoEPERM}, nil
	case limit < 0:
		return action{}, invalid(errnoField, fmt.Errorf("not allowed with %s", name))
	case *errnoRet > uint(limit):
		return action{}, invalid(errnoField, fmt.Errorf("%d out of range 0-%d", *errnoRet, limit))
	}
	return action{name: name, data: uint16(*errnoRet)}, nil
}

func checkArches(arches []specs.Arch) ([]specs.Arch, error) {
	for i, a := range arches {
		if !knownArches[a] {
			return nil, invalid(fmt.Sprintf("architectures[%d]", i), fmt.Errorf("unknown architecture %q", a))
		}
	}
	return arches, nil
}

func checkFlags(flags []specs.LinuxSeccompFlag) (uint, error) {
	var bits uint
	for i, f := range flags {
		bit, ok := filterFlags[f]
		if !ok {
			return 0, invalid(fmt.Sprintf("flags[%d]", i), fmt.Errorf("unknown flag %q", f))
		}
		bits |= bit
	}
	return bits, nil
}

// newRules validates one syscalls[] entry and returns its libseccomp rules.
func newRules(field string, sc specs.LinuxSyscall) ([]rule, error) {
	if err := checkNames(field, sc.Names); err != nil {
		return nil, err
	}
	act, err := checkAction(field+".action", field+".errnoRet", sc.Action, sc.ErrnoRet)
	if err != nil {
		return nil, err
	}
	conds, err := checkArgs(field, sc.Args)
	if err != nil {
		return nil, err
	}
	var rules []rule
	for _, group := range groupConds(conds) {
		rules = append(rules, rule{field: field, names: sc.Names, action: act, conds: group})
	}
	return rules, nil
}

func checkNames(field string, names []string) error {
	if len(names) == 0 {
		return invalid(field+".names", errors.New("empty"))
	}
	for i, n := range names {
		if n == "" {
			return invalid(fmt.Sprintf("%s.names[%d]", field, i), errors.New("empty name"))
		}
	}
	return nil
}

func checkArgs(field string, args []specs.LinuxSeccompArg) ([]cond, error) {
	conds := make([]cond, 0, len(args))
	for i, a := range args {
		f := fmt.Sprintf("%s.args[%d]", field, i)
		switch {
		case a.Index > maxArg:
			return nil, invalid(f+".index", fmt.Errorf("%d out of range 0-%d", a.Index, maxArg))
		case a.Op == "":
			return nil, invalid(f+".op", errors.New("missing"))
		case !knownOps[a.Op]:
			return nil, invalid(f+".op", fmt.Errorf("unknown operator %q", a.Op))
		case a.ValueTwo != 0 && a.Op != specs.OpMaskedEqual:
			return nil, invalid(f+".valueTwo", fmt.Errorf("only used with %s", specs.OpMaskedEqual))
		}
		conds = append(conds, cond{index: a.Index, op: a.Op, value: a.Value, valueTwo: a.ValueTwo})
	}
	return conds, nil
}

// groupConds returns the condition sets to add as separate rules. libseccomp
// cannot AND two comparisons of the same argument ("two checks on same
// syscall argument"), so, like runc, such conditions are ORed instead: one
// rule each. Otherwise all conditions form one rule.
func groupConds(conds []cond) [][]cond {
	seen := map[uint]bool{}
	shared := false
	for _, c := range conds {
		shared = shared || seen[c.index]
		seen[c.index] = true
	}
	if !shared {
		return [][]cond{conds}
	}
	groups := make([][]cond, len(conds))
	for i, c := range conds {
		groups[i] = []cond{c}
	}
	return groups
}

// setListener derives the listener path and flags from the use of
// SCMP_ACT_NOTIFY.
func (p *plan) setListener(s *specs.LinuxSeccomp) error {
	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return invalid("listenerMetadata", errors.New("set without listenerPath"))
	}
	if p.notifies() {
		// The kernel hands out the notification fd only with NEW_LISTENER,
		// and rejects it together with TSYNC unless TSYNC_ESRCH is set too
		// (seccomp(2), EBUSY/EINVAL).
		p.flags |= flagNewListener
		if p.flags&flagTSYNC != 0 {
			p.flags |= flagTSYNCESRCH
		}
		p.listenerPath = s.ListenerPath
	}
	if p.flags&flagWaitKillableRecv != 0 && p.flags&flagNewListener == 0 {
		// seccomp(2): WAIT_KILLABLE_RECV without NEW_LISTENER is EINVAL.
		return invalid("flags", errors.New("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a SCMP_ACT_NOTIFY rule"))
	}
	return nil
}

func (p *plan) notifies() bool {
	for _, r := range p.rules {
		if r.action.name == specs.ActNotify {
			return true
		}
	}
	return false
}

// Known lists, sorted, the actions, operators and architectures a profile
// may name (OCI features.json reports them).
func Known() (actions, operators, arches []string) {
	return sortedKeys(actionData), sortedKeys(knownOps), sortedKeys(knownArches)
}

// KnownFlags are the profile flags Compile takes (features.json's
// knownFlags); which of them the running kernel accepts is found only when
// a filter is loaded.
func KnownFlags() []string { return sortedKeys(filterFlags) }

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}
