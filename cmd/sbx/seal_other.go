//go:build !linux

package main

// dropSealMarker has nothing to do where sbx does not seal itself: no
// process it starts can reach its binary through /proc.
func dropSealMarker() error { return nil }

func setNotDumpable() error { return nil }
