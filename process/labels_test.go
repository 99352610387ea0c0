package process_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// burner burns CPU for the duration it is sent.
type burner struct{ done chan struct{} }

func (b *burner) HandleMessage(_ *process.Process, msg any) error {
	d := msg.(time.Duration)
	x := 1.0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 10000 {
			x = x*1.0000001 + float64(i)
		}
	}
	sink = x
	b.done <- struct{}{}
	return nil
}

var sink float64

// TestProfileLabels_CPUProfileNamesTheProcess: with labels on, a CPU
// profile's samples of a busy process carry its pid, name, backend and
// behaviour, on every backend; the goroutine profile names a Func process
// blocked in Receive.
func TestProfileLabels_CPUProfileNamesTheProcess(t *testing.T) {
	n := spawntest.NewNode(t, process.WithProfileLabels(true))
	if !n.ProfileLabels() {
		t.Fatal("ProfileLabels is off")
	}
	for _, b := range spawntest.Backends() { // one at a time: one CPU profile per program
		t.Run(b.String(), func(t *testing.T) {
			br := &burner{done: make(chan struct{})}
			name := "burner-" + b.String()
			p, err := n.SpawnHandler(br, process.WithBackend(b), process.WithName(name))
			if err != nil {
				t.Fatal(err)
			}
			// The profiler samples CPU time 100 times a second: on a busy
			// machine a round may catch none of the burner's; try again.
			for round := 0; ; round++ {
				found, others := cpuRound(t, n, p, br)
				if found {
					break
				}
				if round == 9 {
					t.Fatalf("no sample labelled with %s's pid, name, backend and behaviour in 10 rounds; labels seen: %v", name, others)
				}
			}
		})
	}
	started := make(chan struct{})
	idle, err := n.Spawn(func(p *process.Process) error {
		close(started) // its goroutine has its labels from its first moment
		_, err := p.Receive(p.Context())
		return err
	}, process.WithName("sleeper"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	if !strings.Contains(buf.String(), `"name":"sleeper"`) || !strings.Contains(buf.String(), `"pid":"`+idle.String()+`"`) {
		t.Fatalf("goroutine profile has no labels for the sleeper:\n%s", buf.String())
	}
}

// cpuRound profiles the burner burning for a while and reports whether a
// sample carries its labels, with the label sets seen otherwise.
func cpuRound(t *testing.T, n *process.Node, p pid.Pid, br *burner) (bool, []map[string]string) {
	t.Helper()
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Skipf("cannot profile: %v", err)
	}
	if err := n.Send(p, 300*time.Millisecond); err != nil {
		pprof.StopCPUProfile()
		t.Fatal(err)
	}
	<-br.done
	pprof.StopCPUProfile()
	samples, err := parseProfile(prof.Bytes())
	if err != nil {
		t.Fatalf("parse profile: %v", err)
	}
	in, _ := n.Info(p)
	var others []map[string]string
	for _, s := range samples {
		if s["pid"] == p.String() && s["name"] == in.Name && s["backend"] == in.Backend.String() && s["behaviour"] == in.Behaviour {
			return true, nil
		}
		if len(s) > 0 {
			others = append(others, s)
		}
	}
	return false, others
}

// parseProfile reads a gzipped profile.proto and returns each sample's
// labels. It decodes the few fields it needs by hand, which keeps the
// test free of a profile library: Profile.sample (2) holds Sample.label
// (3), whose key (1) and str (2) index Profile.string_table (6).
func parseProfile(data []byte) ([]map[string]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var strs []string
	type label struct{ key, str uint64 }
	var samples [][]label
	err = protoFields(raw, func(field int, v uint64, b []byte) error {
		switch field {
		case 6:
			strs = append(strs, string(b))
		case 2:
			var ls []label
			if err := protoFields(b, func(f int, _ uint64, lb []byte) error {
				if f != 3 {
					return nil
				}
				var l label
				err := protoFields(lb, func(f int, v uint64, _ []byte) error {
					switch f {
					case 1:
						l.key = v
					case 2:
						l.str = v
					}
					return nil
				})
				ls = append(ls, l)
				return err
			}); err != nil {
				return err
			}
			samples = append(samples, ls)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(samples))
	for i, ls := range samples {
		out[i] = map[string]string{}
		for _, l := range ls {
			if l.key >= uint64(len(strs)) || l.str >= uint64(len(strs)) {
				return nil, errors.New("label outside the string table")
			}
			out[i][strs[l.key]] = strs[l.str]
		}
	}
	return out, nil
}

// protoFields calls f with each field of a protobuf message: its number,
// and its value (varint) or bytes (length-delimited).
func protoFields(b []byte, f func(field int, v uint64, b []byte) error) error {
	for len(b) > 0 {
		key, k := binary.Uvarint(b)
		if k <= 0 {
			return errors.New("bad key")
		}
		b = b[k:]
		field, wire := int(key>>3), key&7
		switch wire {
		case 0:
			v, k := binary.Uvarint(b)
			if k <= 0 {
				return errors.New("bad varint")
			}
			b = b[k:]
			if err := f(field, v, nil); err != nil {
				return err
			}
		case 1:
			b = b[8:]
		case 2:
			l, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < l {
				return errors.New("bad length")
			}
			if err := f(field, 0, b[k:k+int(l)]); err != nil {
				return err
			}
			b = b[k+int(l):]
		case 5:
			b = b[4:]
		default:
			return fmt.Errorf("wire type %d", wire)
		}
	}
	return nil
}

// TestProfileLabels_OffByDefault: a node labels nothing unless asked, and
// can be switched at run time.
func TestProfileLabels_OffByDefault(t *testing.T) {
	n := spawntest.NewNode(t)
	if n.ProfileLabels() {
		t.Fatal("labels on by default")
	}
	started := make(chan struct{})
	p, err := n.Spawn(func(p *process.Process) error {
		close(started)
		<-p.Context().Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	if strings.Contains(buf.String(), p.String()) {
		t.Fatal("a process is labelled with labels off")
	}
	n.SetProfileLabels(true)
	if !n.ProfileLabels() {
		t.Fatal("SetProfileLabels(true) did not switch them on")
	}
	var nilNode *process.Node
	nilNode.SetProfileLabels(true)
	if nilNode.ProfileLabels() {
		t.Fatal("a nil node has labels")
	}
}
