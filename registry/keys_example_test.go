package registry_test

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// Publish and subscribe: subscribers register under a topic in a Duplicate
// registry, with a value each; a publisher dispatches to every entry.
func ExampleKeys_Dispatch() {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)

	// A subscriber's value is the prefix it wants on its lines.
	topics, err := registry.NewKeys[string, string](node, registry.KeysOptions{Kind: registry.Duplicate})
	if err != nil {
		fmt.Println(err)
		return
	}
	lines := make(chan string)
	subscriber := func(p *process.Process) error {
		for {
			msg, err := p.Receive(ctx)
			if err != nil {
				return err
			}
			lines <- msg.(string)
		}
	}
	alice, _ := node.Spawn(subscriber)
	bob, _ := node.Spawn(subscriber)
	_ = topics.Register("news", alice, "alice reads")
	_ = topics.Register("news", bob, "bob reads")
	_ = topics.Register("sports", bob, "bob watches")

	publish := func(topic, text string) int {
		sent := 0
		_ = topics.Dispatch(topic, func(subs []registry.Entry[string]) {
			for _, s := range subs {
				_ = node.Send(s.Pid, s.Value+" "+text)
				sent++
			}
		})
		got := make([]string, sent)
		for i := range got {
			got[i] = <-lines
		}
		slices.Sort(got) // subscribers run concurrently
		for _, l := range got {
			fmt.Println(l)
		}
		return sent
	}
	publish("news", "hello")
	publish("sports", "the match")

	// A subscriber that exits is gone from every topic before its exit
	// can be observed.
	exited := make(chan struct{})
	_, _ = link.Watch(node, bob, func(link.Down) { close(exited) })
	_ = node.Exit(bob, process.Kill)
	<-exited
	fmt.Println("news subscribers:", topics.Count("news"), "sports subscribers:", topics.Count("sports"))
	fmt.Println("sent:", publish("news", "again"))
	// Output:
	// alice reads hello
	// bob reads hello
	// bob watches the match
	// news subscribers: 1 sports subscribers: 0
	// alice reads again
	// sent: 1
}

// Dynamic names: a Unique registry names one process per key, with a value.
func ExampleKeys_Register() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	sessions, _ := registry.NewKeys[int, string](node, registry.KeysOptions{Kind: registry.Unique})
	idle := func(p *process.Process) error { <-p.Context().Done(); return nil }
	s1, _ := node.Spawn(idle)
	s2, _ := node.Spawn(idle)

	fmt.Println(sessions.Register(42, s1, "alice") == nil)
	err := sessions.Register(42, s2, "bob")
	var taken *registry.KeyTakenError[int]
	fmt.Println(errors.Is(err, registry.ErrKeyTaken), errors.As(err, &taken) && taken.Owner == s1)

	e, ok := sessions.Find(42)
	fmt.Println(ok, e.Pid == s1, e.Value)
	v, _ := sessions.UpdateValue(42, s1, func(old string) string { return old + " (admin)" })
	fmt.Println(v)
	// Output:
	// true
	// true true
	// true true alice
	// alice (admin)
}

// counter is a server that adds up what it is called with.
type counter struct {
	genserver.NoCasts
	total int
}

func (c *counter) HandleCall(_ *genserver.CallCtx[int], n int) (int, error) {
	c.total += n
	return c.total, nil
}

// Servers named by key: Via makes a string-keyed registry a
// genserver.Registrar, for names made at run time.
func ExampleVia() {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)

	workers, _ := registry.NewKeys[string, int](node, registry.KeysOptions{Kind: registry.Unique})
	via := registry.Via(workers)
	for i := range 3 {
		name := fmt.Sprint("worker-", i)
		if _, err := genserver.Start(ctx, node, &counter{}, genserver.WithVia(via.WithValue(i), name)); err != nil {
			fmt.Println(err)
			return
		}
	}
	w1 := genserver.NamedVia[int, int, genserver.Never](node, via, "worker-1")
	total, _ := w1.Call(ctx, 5)
	fmt.Println("worker-1 total:", total)

	_, err := genserver.Start(ctx, node, &counter{}, genserver.WithVia(via, "worker-1"))
	fmt.Println(errors.Is(err, genserver.ErrAlreadyStarted))

	_ = w1.Stop(ctx, nil)
	_, ok := workers.Find("worker-1")
	fmt.Println("worker-1 registered after stop:", ok, "workers:", workers.Len())
	// Output:
	// worker-1 total: 5
	// true
	// worker-1 registered after stop: false workers: 2
}
