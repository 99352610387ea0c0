package genserver

import (
	"context"
	"errors"
	"testing"

	"github.com/spawned-go/spawned/process"
)

// TestGS09_NoProcByNameIsShared: a call, cast or stop by a name that no
// process holds fails with a *CallError that names the operation and the
// name and wraps process.NoProc; a caller polling the name gets the same
// error again without an allocation, and an error whose holder changed it
// is not handed out again.
func TestGS09_NoProcByNameIsShared(t *testing.T) {
	node := process.NewNode(process.WithLogger(nil))
	t.Cleanup(func() { node.Stop(context.Background()) })
	ctx := context.Background()
	ref := Named[int, int, int](node, "gs09-shared")

	cases := []struct {
		op   string
		run  func() error
		text string
	}{
		{OpCall, func() error { _, err := ref.Call(ctx, 1); return err }, `genserver: call "gs09-shared": noproc`},
		{OpStop, func() error { return ref.Stop(ctx, nil) }, `genserver: stop "gs09-shared": noproc`},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			err := tc.run()
			var ce *CallError
			if !errors.As(err, &ce) || !errors.Is(err, process.NoProc) || ce.Op != tc.op || ce.Name != "gs09-shared" || !ce.Server.IsZero() {
				t.Fatalf("%s by name = %#v; want a *CallError for %s of gs09-shared wrapping NoProc", tc.op, err, tc.op)
			}
			if err.Error() != tc.text {
				t.Errorf("text %q; want %q", err.Error(), tc.text)
			}
			if again := tc.run(); again != err {
				t.Errorf("second failure %p; want the shared %p", again, err)
			}
			if allocs := testing.AllocsPerRun(100, func() { tc.run() }); allocs != 0 {
				t.Errorf("a failed %s by name allocates %v times; want 0", tc.op, allocs)
			}
			ce.Reason = errors.New("changed by its holder")
			if again := tc.run(); again == error(ce) || !errors.Is(again, process.NoProc) {
				t.Errorf("after its holder changed it: %v (same: %v); want a fresh NoProc error", again, again == error(ce))
			}
		})
	}
}
