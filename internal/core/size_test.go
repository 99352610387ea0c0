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

// The mailbox's two sides each start a cache line of Proc, which the
// 256-byte size class aligns: senders and the process then write
// different lines for every message.
func TestMailboxLayout(t *testing.T) {
	var p Proc
	base := uintptr(unsafe.Pointer(&p))
	senders := uintptr(unsafe.Pointer(&p.mbox.mailboxSenders)) - base
	consumer := uintptr(unsafe.Pointer(&p.mbox.mailboxConsumer)) - base
	if senders%cacheLine != 0 || consumer != senders+cacheLine {
		t.Errorf("mailbox sides at offsets %d and %d; want consecutive cache lines", senders, consumer)
	}
	if unsafe.Sizeof(mailboxSenders{}) > cacheLine {
		t.Errorf("the senders' side is %d bytes; want one cache line", unsafe.Sizeof(mailboxSenders{}))
	}
}
