package spawn_test

import (
	"fmt"
	"os"

	"sbx.dev/sbx/spawn"
)

// Start a program with an exact environment and wait for it through its
// pidfd. The child gets fds 0-2 only; a nil Stdin is /dev/null.
func Example() {
	cmd := &spawn.Cmd{
		Path:   "/bin/sh",
		Args:   []string{"sh", "-c", `echo "hello, $WHO"; exit 3`},
		Env:    []string{"WHO=world"},
		Stdout: os.Stdout,
	}
	p, err := cmd.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	st, err := p.Wait()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.ExitCode())
	// Output:
	// hello, world
	// 3
}

// Errors before exec are Start's, naming the step and its object.
func ExampleCmd_Start_error() {
	_, err := (&spawn.Cmd{Path: "/bin/true", Dir: "/nonexistent"}).Start()
	fmt.Println(err)
	// Output: spawn: chdir "/nonexistent": no such file or directory
}
