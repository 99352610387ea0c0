package reliability_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine is left once every test is done:
// every suite stops its nodes, and a stopped node leaves nothing behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// longMode reports whether the long mode (SPAWNED_LONG=1) is on.
func longMode() bool { return os.Getenv("SPAWNED_LONG") == "1" }

// modeName names the mode in FIGURES lines.
func modeName() string {
	if longMode() {
		return "long"
	}
	return "quick"
}

// seedFromEnv returns SPAWNED_SEED, or a fresh seed, and logs it so that
// a failing run can be replayed.
func seedFromEnv(t testing.TB) uint64 {
	t.Helper()
	if s := os.Getenv("SPAWNED_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("SPAWNED_SEED=%q: %v", s, err)
		}
		t.Logf("seed %d (from SPAWNED_SEED)", v)
		return v
	}
	v := rand.Uint64()
	t.Logf("seed %d (replay with SPAWNED_SEED=%d)", v, v)
	return v
}
