package spec

import (
	"slices"
	"strconv"
	"strings"
)

// linuxCapabilities are the capabilities of Linux 5.9 and later, by number
// (include/uapi/linux/capability.h; CAP_CHECKPOINT_RESTORE is 40).
var linuxCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// canonicalCapability returns name in the "CAP_NET_RAW" form, whether it
// was written so or as "net_raw" (in any case).
func canonicalCapability(name string) string {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	return name
}

func knownCapability(canonical string) bool {
	return slices.Contains(linuxCapabilities, canonical)
}

// CapabilityNumber is the Linux number of a capability written as Load
// accepts it ("CAP_NET_RAW" or "net_raw"); false when Linux has none.
func CapabilityNumber(name string) (int, bool) {
	n := slices.Index(linuxCapabilities, canonicalCapability(name))
	return n, n >= 0
}

// CapabilitiesIn names the capabilities of a mask whose bit n is
// capability n, "CAP_CHOWN" first; "cap_N" for a number sbx has no name
// for.
func CapabilitiesIn(mask uint64) []string {
	var names []string
	for n := 0; n < 64; n++ {
		switch {
		case mask&(1<<n) == 0:
		case n < len(linuxCapabilities):
			names = append(names, linuxCapabilities[n])
		default:
			names = append(names, "cap_"+strconv.Itoa(n))
		}
	}
	return names
}

// CapabilityNames lists the capabilities sbx knows, "CAP_CHOWN" first.
func CapabilityNames() []string { return slices.Clone(linuxCapabilities) }
