package wire

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/spawned-go/spawned/pid"
)

// order is a typical small message.
type order struct {
	ID     int64
	Client pid.Pid
	Item   string
	Qty    int
	Price  float64
	Tags   []string
}

func init() {
	if err := Register("bench.order", reflect.TypeFor[order]()); err != nil {
		panic(err)
	}
}

var benchOrder = order{ID: 42, Client: pid.New(nodeA, 7), Item: "widget", Qty: 3, Price: 9.99, Tags: []string{"a", "b"}}

func BenchmarkCodec(b *testing.B) {
	b.Run("encode", func(b *testing.B) {
		e := &Enc{Sender: nodeA, Receiver: nodeB}
		b.ReportAllocs()
		for b.Loop() {
			e.B = e.B[:0]
			e.Value(benchOrder)
		}
	})
	e := &Enc{Sender: nodeA, Receiver: nodeB}
	e.Value(benchOrder)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var d Dec
		for b.Loop() {
			d.Reset(e.B, nodeA, nodeB)
			_ = d.Value()
		}
	})
	b.Run("decode-alias", func(b *testing.B) {
		b.ReportAllocs()
		var d Dec
		for b.Loop() {
			d.Reset(e.B, nodeA, nodeB)
			d.Alias = true
			_ = d.Value()
		}
	})
	// The alternatives, one message per stream as on the wire: gob must
	// send its type description with every message.
	b.Run("gob-decode", func(b *testing.B) {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(benchOrder); err != nil {
			b.Fatal(err)
		}
		data := buf.Bytes()
		b.ReportAllocs()
		for b.Loop() {
			var o order
			if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-decode", func(b *testing.B) {
		data, err := json.Marshal(benchOrder)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var o order
			if err := json.Unmarshal(data, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
}
