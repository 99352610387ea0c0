// Command chat_room keeps the members of a chat room in a process group.
// Fifty member processes join the group "lobby"; a room server broadcasts
// each post to the group's members. Members that leave the group stop
// hearing the room; members that exit, normally or not, are removed from
// every group they were in without anyone having to tell the room.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

func main() {
	if err := run(os.Stdout, 50); err != nil {
		fmt.Fprintln(os.Stderr, "chat_room:", err)
		os.Exit(1)
	}
}

// Post is a call to the room: broadcast Text to the room's members and
// answer with the number of members it was sent to.
type Post struct {
	From string
	Text string
}

// Line is what a member receives for each post.
type Line struct {
	Room string
	Post
}

// Room broadcasts to the members of its process group. It keeps no list of
// its own: the group is the list, and the runtime keeps it up to date.
type Room struct {
	group string
}

func (r *Room) HandleCall(ctx *genserver.CallCtx[int], p Post) (int, error) {
	members := registry.Of(ctx.Node()).Members(r.group)
	for _, m := range members {
		ctx.Process().Send(m, Line{Room: r.group, Post: p})
	}
	return len(members), nil
}

// The room takes no casts.
func (r *Room) HandleCast(*genserver.Ctx, genserver.Never) {}

// quit asks a member to leave the chat: its process exits normally.
type quit struct{}

// member is a chat member: a Handler process, so an idle member holds no
// goroutine. It acknowledges every line it hears so that main can count the
// deliveries.
type member struct {
	heard chan<- string
}

func (m *member) HandleMessage(p *process.Process, msg any) error {
	switch msg := msg.(type) {
	case Line:
		m.heard <- msg.Text
	case quit:
		return process.Normal
	}
	return nil
}

// run fills a room with n members and shows how the group follows them.
func run(w io.Writer, n int) error {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)
	reg := registry.Of(node)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	heard := make(chan string, n)
	room, err := genserver.Start(ctx, node, &Room{group: "lobby"}, genserver.WithName("room"))
	if err != nil {
		return err
	}
	members := make([]pid.Pid, n)
	for i := range members {
		if members[i], err = node.SpawnHandler(&member{heard: heard}); err != nil {
			return err
		}
		if err := reg.Join("lobby", members[i]); err != nil {
			return err
		}
	}

	// broadcast posts text and waits until every member it was sent to has
	// heard it.
	broadcast := func(text string) error {
		sent, err := room.Call(ctx, Post{From: "host", Text: text})
		if err != nil {
			return err
		}
		for range sent {
			if got := <-heard; got != text {
				return fmt.Errorf("a member heard %q, want %q", got, text)
			}
		}
		say("   %q reached %d members", text, sent)
		return nil
	}
	// watchExits returns a function that waits until all of ps have exited.
	watchExits := func(ps []pid.Pid) (wait func(), err error) {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			if _, err := link.Watch(node, p, func(link.Down) { wg.Done() }); err != nil {
				return nil, err
			}
		}
		return wg.Wait, nil
	}

	say("1. %d members join the lobby.", n)
	say("   lobby members: %d, groups: %v", len(reg.Members("lobby")), reg.Groups())
	if err := broadcast("welcome"); err != nil {
		return err
	}

	say("2. Some members go elsewhere, some quit, some lose their connection.")
	movers, quitters, dropped := members[0:5], members[5:10], members[10:15]
	for _, p := range movers {
		// Leave removes a membership; the process lives on and joins another group.
		if err := reg.Leave("lobby", p); err != nil {
			return err
		}
		if err := reg.Join("lounge", p); err != nil {
			return err
		}
	}
	wait, err := watchExits(append(append([]pid.Pid{}, quitters...), dropped...))
	if err != nil {
		return err
	}
	for _, p := range quitters {
		node.Send(p, quit{}) // exits normally
	}
	errConnLost := errors.New("connection lost")
	for _, p := range dropped {
		node.Exit(p, errConnLost) // dies of an exit signal
	}
	wait()
	say("   %d moved to the lounge, %d quit, %d dropped; nobody told the room", len(movers), len(quitters), len(dropped))
	say("   lobby members: %d, lounge members: %d, groups: %v", len(reg.Members("lobby")), len(reg.Members("lounge")), reg.Groups())
	if err := broadcast("still here?"); err != nil {
		return err
	}

	say("3. A group disappears with its last member.")
	wait, err = watchExits(movers)
	if err != nil {
		return err
	}
	for _, p := range movers {
		node.Send(p, quit{})
	}
	wait()
	say("   the lounge emptied: groups: %v", reg.Groups())

	if err := room.Stop(ctx, nil); err != nil {
		return err
	}
	live := 0
	for _, p := range members {
		if node.Alive(p) {
			live++
		}
	}
	say("   the room closed; %d members still in the lobby, %d live members", len(reg.Members("lobby")), live)
	return nil
}
