package genserver_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
)

// Job is a call to the queue; Receipt is its reply.
type Job struct{ Task string }

type Receipt struct{ Position int }

// Queue takes jobs and answers each with its place in line.
type Queue struct {
	genserver.NoCasts
	jobs []Job
}

func (q *Queue) HandleCall(_ *genserver.CallCtx[Receipt], j Job) (Receipt, error) {
	q.jobs = append(q.jobs, j)
	return Receipt{Position: len(q.jobs)}, nil
}

// QueueName is the queue's name with its types, declared once for the
// whole program.
var QueueName = genserver.NewName[Job, Receipt, genserver.Never]("queue")

func ExampleNewName() {
	ctx := context.Background()
	node := process.NewNode()
	defer node.Stop(ctx)

	// Only a server of the name's types can start under it:
	// QueueName.Start(ctx, node, &Counter{}) does not compile.
	if _, err := QueueName.Start(ctx, node, &Queue{}); err != nil {
		panic(err)
	}

	// Callers reach it by the name, with no type arguments to repeat.
	queue := QueueName.Ref(node)
	r, _ := queue.Call(ctx, Job{Task: "build"})
	fmt.Println("build is number", r.Position)
	r, _ = queue.Call(ctx, Job{Task: "test"})
	fmt.Println("test is number", r.Position)

	_, err := QueueName.Start(ctx, node, &Queue{})
	fmt.Println("a second queue:", errors.Is(err, genserver.ErrAlreadyStarted))
	// Output:
	// build is number 1
	// test is number 2
	// a second queue: true
}

func ExampleWithoutTimeout() {
	ctx := context.Background()
	node := process.NewNode()
	defer node.Stop(ctx)

	queue, err := QueueName.Start(ctx, node, &Queue{})
	if err != nil {
		panic(err)
	}
	// Without a deadline a call gives up after DefaultCallTimeout (5 s);
	// this one waits as long as the queue takes to answer, or until ctx is
	// cancelled: OTP's infinity.
	r, err := queue.Call(genserver.WithoutTimeout(ctx), Job{Task: "a long build"})
	fmt.Println(r.Position, err)

	// The same for a stop whose Terminate may take long.
	fmt.Println(queue.Stop(genserver.WithoutTimeout(ctx), nil))
	// Output:
	// 1 <nil>
	// <nil>
}
