//go:build !linux

package main

import "errors"

func becomeSubreaper() error { return errors.New("needs Linux (PR_SET_CHILD_SUBREAPER)") }

func waitChild(pid int) (int, error) { return 0, errors.New("needs Linux") }

func reapOrphans() {}
