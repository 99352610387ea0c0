package core

import (
	"testing"
	"unsafe"
)

// An idle process is mostly its Proc: keep it within the 256-byte size
// class. State few processes use belongs in procCold.
func TestProcSize(t *testing.T) {
	if got := unsafe.Sizeof(Proc{}); got > 256 {
		t.Errorf("Proc is %d bytes; want at most 256", got)
	}
}
