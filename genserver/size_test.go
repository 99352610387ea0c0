package genserver

import (
	"testing"
	"unsafe"
)

// An idle server is its process and this struct: keep it within the
// 144-byte size class. State few servers use belongs in serverOpts or
// ctxRare.
func TestServerSize(t *testing.T) {
	if got := unsafe.Sizeof(server[int, int, struct{}]{}); got > 144 {
		t.Errorf("server is %d bytes; want at most 144", got)
	}
}
