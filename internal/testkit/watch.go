package testkit

import (
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

func watch(n *process.Node, p pid.Pid, f func(error)) (pid.Ref, error) {
	return link.Watch(n, p, func(d link.Down) { f(d.Reason) })
}
