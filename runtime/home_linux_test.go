package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWithHome(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n# a comment\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\nnohome:x:1001:1001:::/bin/sh\n"
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  []string
		uid  uint32
		want []string
	}{
		{[]string{"PATH=/bin"}, 0, []string{"PATH=/bin", "HOME=/root"}},
		{nil, 1000, []string{"HOME=/home/alice"}},
		{nil, 1001, []string{"HOME=/"}}, // an empty home field
		{nil, 4242, []string{"HOME=/"}}, // no entry
		{[]string{"HOME=/mine"}, 1000, []string{"HOME=/mine"}},
	} {
		if got := withHome(c.env, root, c.uid); !slices.Equal(got, c.want) {
			t.Errorf("withHome(%q, uid %d) = %q, want %q", c.env, c.uid, got, c.want)
		}
	}
	// The file is read as the container sees it: a symlink to the host's
	// /etc/passwd resolves inside the root (to itself: a loop), and a
	// missing root or file gives "/".
	escape := t.TempDir()
	if err := os.Mkdir(filepath.Join(escape, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(escape, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{escape, filepath.Join(root, "missing"), ""} {
		if got := homeOf(r, 0); got != "/" {
			t.Errorf("homeOf(%q, 0) = %q, want /", r, got)
		}
	}
}
