package reliability_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine is left once every test is done:
// every suite stops its nodes, and a stopped node leaves nothing behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
