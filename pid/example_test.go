package pid_test

import (
	"fmt"

	"github.com/spawned-go/spawned/pid"
)

func ExampleParse() {
	node, _ := pid.ParseNodeID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	p := pid.New(node, 42)
	fmt.Println(p)

	q, err := pid.Parse(p.String())
	fmt.Println(q == p, err)

	_, err = pid.Parse("<not a pid>")
	fmt.Println(err)

	var zero pid.Pid
	fmt.Println(zero, zero.IsZero())
	// Output:
	// <6ba7b810-9dad-11d1-80b4-00c04fd430c8.42>
	// true <nil>
	// pid: invalid syntax: "<not a pid>"
	// <0> true
}

func ExampleParseRef() {
	node, _ := pid.ParseNodeID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	r := pid.NewRef(node, 7)
	fmt.Println(r)
	q, err := pid.ParseRef(r.String())
	fmt.Println(q == r, err)
	// Output:
	// #Ref<6ba7b810-9dad-11d1-80b4-00c04fd430c8.7>
	// true <nil>
}
