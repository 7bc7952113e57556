//go:build !linux

package main

import "sbx.dev/sbx/runtime"

// enterUserNamespaceFirst: only Linux enters a container's namespaces.
func enterUserNamespaceFirst(*runtime.Container, string) error { return nil }
