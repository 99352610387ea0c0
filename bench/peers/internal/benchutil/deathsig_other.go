//go:build !linux

package benchutil

import "os/exec"

// dieWithParent does nothing here: a peer still exits when its standard
// input closes.
func dieWithParent(cmd *exec.Cmd) {}
