package genserver_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ncProgram is a package that starts servers under a typed Name; the
// statement under test goes in F.
const ncProgram = `package typedname

import (
	"context"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

// Right has the Name's types; Wrong answers strings.
type Right struct{ genserver.NoCasts }

func (*Right) HandleCall(*genserver.CallCtx[int], int) (int, error) { return 0, nil }

type Wrong struct{ genserver.NoCasts }

func (*Wrong) HandleCall(*genserver.CallCtx[string], string) (string, error) { return "", nil }

var Q = genserver.NewName[int, int, genserver.Never]("q")

var (
	_ = supervisor.Spec{}
	_ *process.Process
)

func F() {
	ctx := context.Background()
	node := process.NewNode()
	var p *process.Process
	_, _, _ = ctx, node, p
	STATEMENT
}
`

// TestName_WrongServerDoesNotCompile builds small packages with the go
// command: a server of other types than its Name's does not compile, under
// Start, StartLink or supervisor.NamedGenServer, and a Ref through the Name
// takes and gives only the Name's types.
func TestName_WrongServerDoesNotCompile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds packages with the go command")
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		gocmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gocmd); err != nil {
			t.Skip("no go command to build with")
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label     string
		statement string
		compiles  bool
	}{
		{"the Name's types", `Q.Start(ctx, node, &Right{})
	Q.StartLink(ctx, p, &Right{})
	_ = supervisor.NamedGenServer(Q, func() *Right { return &Right{} })
	var r int
	r, _ = Q.Ref(node).Call(ctx, 1)
	_ = r`, true},
		{"Start, wrong server", `Q.Start(ctx, node, &Wrong{})`, false},
		{"StartLink, wrong server", `Q.StartLink(ctx, p, &Wrong{})`, false},
		{"NamedGenServer, wrong server", `_ = supervisor.NamedGenServer(Q, func() *Wrong { return &Wrong{} })`, false},
		{"Ref.Call, wrong request", `Q.Ref(node).Call(ctx, "one")`, false},
		{"Ref.Call, wrong reply", `var r string; r, _ = Q.Ref(node).Call(ctx, 1); _ = r`, false},
	} {
		t.Run(tc.label, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "main.go")
			if err := os.WriteFile(src, []byte(strings.Replace(ncProgram, "STATEMENT", tc.statement, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			// The package is built as one of this module, in a directory
			// that exists only in the overlay.
			overlay, err := json.Marshal(map[string]map[string]string{
				"Replace": {filepath.Join(wd, "testdata", "typedname", "main.go"): src},
			})
			if err != nil {
				t.Fatal(err)
			}
			ov := filepath.Join(dir, "overlay.json")
			if err := os.WriteFile(ov, overlay, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(gocmd, "build", "-overlay", ov, "-o", os.DevNull, "./testdata/typedname")
			out, err := cmd.CombinedOutput()
			switch {
			case tc.compiles && err != nil:
				t.Fatalf("does not compile:\n%s", out)
			case !tc.compiles && err == nil:
				t.Fatalf("compiles; it must not")
			case !tc.compiles && !strings.Contains(string(out), "cannot use") && !strings.Contains(string(out), "does not satisfy"):
				t.Fatalf("fails to build for another reason than a type mismatch:\n%s", out)
			}
		})
	}
}
