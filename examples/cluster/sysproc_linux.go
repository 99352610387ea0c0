package main

import "syscall"

// sysProcAttr puts a node in a process group of its own, so that a Ctrl-C
// at the terminal reaches the director only (which then stops the nodes),
// and has the kernel kill the node if the director dies without stopping
// it (killed itself, or crashed in a goroutine that runs no defers).
//
// Pdeathsig fires when the thread that started the node ends; the Go
// runtime ends a thread only for a goroutine that locked it and returned,
// which the director never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
