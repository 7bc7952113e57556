//go:build !linux

package main

// sealSelf has nothing to do where no process sbx starts can reach sbx's
// binary through /proc.
func sealSelf([]string) error { return nil }

func setNotDumpable(bool) error { return nil }
