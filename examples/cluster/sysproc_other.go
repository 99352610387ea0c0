//go:build !linux

package main

import "syscall"

// sysProcAttr leaves the nodes' process attributes alone: outside Linux a
// node that outlives the director notices it when its standard input
// closes, and quits.
func sysProcAttr() *syscall.SysProcAttr { return nil }
