package core

import (
	"reflect"
	"runtime"
	"runtime/debug"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/pid"
)

// contain runs f, a callback of code outside the runtime (an exit
// callback, a watch's notify, a message's Undelivered), so that a panic in
// it cannot escape into the runtime or into whoever caused the callback
// (the caller of Exit, a dying process): the panic is logged and the
// runtime goes on with its other work. what names the callback in the log.
func (n *Node) contain(what string, about pid.Pid, f func()) {
	defer func() {
		if v := recover(); v != nil {
			n.callbackPanicked(what, about, v)
		}
	}()
	f()
}

// callbackPanicked logs the panic v of the callback what, recovered from
// the goroutine that ran it.
func (n *Node) callbackPanicked(what string, about pid.Pid, v any) {
	n.logError("callback panicked", zap.String("callback", what), zap.Stringer("pid", about),
		zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
}

// logError logs through the node's logger. A logger, or a hook of it, that
// panics is not allowed to take the runtime down with it: the log entry is
// lost and the panic ends here.
func (n *Node) logError(msg string, fields ...zap.Field) {
	LogError(n.Logger(), msg, fields...)
}

// LogError logs msg at error level through l, containing a panic of the
// logger or of one of its hooks: code that reports a crash must not crash
// itself.
func LogError(l *zap.Logger, msg string, fields ...zap.Field) {
	defer func() { _ = recover() }()
	l.Error(msg, fields...)
}

// LogEnabled reports whether l logs at level, so that a report nobody
// reads is not built. A logger that panics is taken as one that does not
// log: LogError would lose the report anyway.
func LogEnabled(l *zap.Logger, level zapcore.Level) (on bool) {
	defer func() {
		if recover() != nil {
			on = false
		}
	}()
	return l.Core().Enabled(level)
}

// LogWarn is LogError at warning level.
func LogWarn(l *zap.Logger, msg string, fields ...zap.Field) {
	defer func() { _ = recover() }()
	l.Warn(msg, fields...)
}

// Contain runs f and contains a panic in it as contain does, logging it on
// l: for the exit callbacks the packages above core run themselves.
func Contain(l *zap.Logger, what string, about pid.Pid, f func()) {
	defer func() {
		if v := recover(); v != nil {
			LogError(l, "callback panicked", zap.String("callback", what), zap.Stringer("pid", about),
				zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
		}
	}()
	f()
}

// runtimeRoots are the functions that goroutines of a node start in.
var runtimeRoots = func() map[string]bool {
	pkg := reflect.TypeFor[Node]().PkgPath()
	roots := make(map[string]bool)
	for _, f := range []string{"(*Proc).runFunc", "(*Proc).runThread", "(*Node).work", "(*Node).watchdog", "(*Node).killAll"} {
		roots[pkg+"."+f] = true
	}
	return roots
}()

// onRuntimeGoroutine reports whether the calling goroutine is one that a
// node started: it runs a process's code or a callback called from there.
// It reads the goroutine's whole stack, so only Stop pays for it.
func onRuntimeGoroutine() bool {
	pcs := make([]uintptr, 64)
	for {
		k := runtime.Callers(2, pcs)
		if k < len(pcs) {
			pcs = pcs[:k]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if runtimeRoots[f.Function] {
			return true
		}
		if !more {
			return false
		}
	}
}
