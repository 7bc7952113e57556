//go:build !linux

package main

// setNotDumpable has nothing to do where sbx does not start processes
// that share its memory.
func setNotDumpable() error { return nil }

// reexecSealed has nothing to protect where sbx does not start processes
// from its own image.
func reexecSealed() error { return nil }
