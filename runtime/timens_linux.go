package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Time offsets. A time namespace's offsets can be written only until a
// process is in it, and clone3(CLONE_NEWTIME) puts the child in at once.
// So a container with offsets gets its time namespace from unshare(2) in
// its setup instead (namespaces.Options.UnshareTime), which its process
// enters only at execve, and sbx writes the offsets while it waits at its
// gate. exec cannot enter that namespace (setns(2) of a time namespace
// wants a caller that shares its memory with no one, and sbx's child
// shares sbx's until exec): its process gets a namespace of its own the
// same way, with the same offsets, so its clocks are the container's.

// timeClocks are the clocks a time namespace offsets (time_namespaces(7)).
var timeClocks = []string{"boottime", "monotonic"}

// checkTimeOffsets refuses offsets that no new time namespace of the
// container's own would get, and clocks or values the kernel would refuse.
func checkTimeOffsets(lx *specs.Linux) error {
	if len(lx.TimeOffsets) == 0 {
		return nil
	}
	i := slices.IndexFunc(lx.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.TimeNamespace })
	if i < 0 {
		return errors.New(`linux.timeOffsets: the container has no time namespace of its own: list {"type": "time"} in linux.namespaces`)
	}
	if lx.Namespaces[i].Path != "" {
		return fmt.Errorf("linux.timeOffsets: linux.namespaces[%d] joins an existing time namespace, whose offsets are fixed", i)
	}
	for clock, off := range lx.TimeOffsets {
		if !slices.Contains(timeClocks, clock) {
			return fmt.Errorf("linux.timeOffsets: unknown clock %q (boottime and monotonic have offsets)", clock)
		}
		if off.Nanosecs >= 1e9 {
			return fmt.Errorf("linux.timeOffsets.%s.nanosecs: %d is not below 1000000000", clock, off.Nanosecs)
		}
	}
	return nil
}

// writeTimeOffsets sets the offsets of the time namespace pid's process
// enters at execve; nothing when there are none.
func writeTimeOffsets(pid int, offsets map[string]specs.LinuxTimeOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	var b strings.Builder
	for _, clock := range timeClocks {
		if off, ok := offsets[clock]; ok {
			fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
	}
	f, err := os.OpenFile("/proc/"+strconv.Itoa(pid)+"/timens_offsets", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("linux.timeOffsets: %w", err)
	}
	defer f.Close()
	// One write: the kernel takes the whole set or none of it.
	if _, err := f.WriteString(b.String()); err != nil {
		return fmt.Errorf("linux.timeOffsets: writing %s: %w", f.Name(), err)
	}
	return nil
}
