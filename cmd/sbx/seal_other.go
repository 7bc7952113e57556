//go:build !linux

package main

// setNotDumpable has nothing to do where sbx does not start processes
// that share its memory.
func setNotDumpable() error { return nil }
