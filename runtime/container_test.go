package runtime

import "testing"

func TestCheckID(t *testing.T) {
	for _, id := range []string{"a", "abc-1.2_3+x", "A9", "..a", "sha256.0f"} {
		if err := checkID(id); err != nil {
			t.Errorf("checkID(%q) = %v, want nil", id, err)
		}
	}
	// Anything that could name another directory, or is not ASCII.
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "é", "a\x00b", "a:b", "ab\n"} {
		if err := checkID(id); err == nil {
			t.Errorf("checkID(%q) = nil, want an error", id)
		}
	}
}
