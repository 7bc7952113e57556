package spec

import (
	"slices"
	"testing"
)

func TestCapabilitiesIn(t *testing.T) {
	for _, tc := range []struct {
		mask uint64
		want []string
	}{
		{0, nil},
		{1 << 0, []string{"CAP_CHOWN"}},
		// runc spec's ambient set, which the warning names.
		{1<<5 | 1<<10 | 1<<29, []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}},
		{1<<40 | 1<<41 | 1<<63, []string{"CAP_CHECKPOINT_RESTORE", "cap_41", "cap_63"}},
	} {
		if got := CapabilitiesIn(tc.mask); !slices.Equal(got, tc.want) {
			t.Errorf("CapabilitiesIn(%#x) = %q, want %q", tc.mask, got, tc.want)
		}
	}
	// Every name maps back to its number.
	for n, name := range CapabilitiesIn(^uint64(0))[:len(linuxCapabilities)] {
		if got, ok := CapabilityNumber(name); !ok || got != n {
			t.Errorf("CapabilityNumber(%q) = %d, %v; want %d", name, got, ok, n)
		}
	}
}
