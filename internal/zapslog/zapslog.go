// Package zapslog is a zapcore.Core that writes to a log/slog Handler, so
// that the runtime, which logs with zap, reports through a program's
// *slog.Logger: each entry becomes one slog.Record with the entry's fields
// as attributes.
package zapslog

import (
	"context"
	"log/slog"

	"go.uber.org/zap/zapcore"
)

// NewCore returns a Core that writes every entry to h.
func NewCore(h slog.Handler) zapcore.Core { return &core{h: h} }

type core struct {
	h slog.Handler
}

// Level maps a zap level to the slog level it is written at.
func Level(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	case l == zapcore.ErrorLevel:
		return slog.LevelError
	}
	return slog.LevelError + 4 // DPanic, Panic, Fatal
}

func (c *core) Enabled(l zapcore.Level) bool { return c.h.Enabled(context.Background(), Level(l)) }

func (c *core) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	return &core{h: c.h.WithAttrs(Attrs(fields))}
}

func (c *core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *core) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, Level(e.Level), e.Message, 0)
	r.AddAttrs(Attrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c *core) Sync() error { return nil }

// Attrs converts zap fields to slog attributes, in order: strings stay
// strings (byte strings and Stringers become strings), numbers, durations
// and times keep their types, errors become their text, and objects become
// maps.
func Attrs(fields []zapcore.Field) []slog.Attr {
	out := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		if f.Type == zapcore.SkipType {
			continue
		}
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		if v, ok := enc.Fields[f.Key]; ok {
			out = append(out, slog.Any(f.Key, v))
		}
		for k, v := range enc.Fields { // extra keys, such as errorVerbose
			if k != f.Key {
				out = append(out, slog.Any(k, v))
			}
		}
	}
	return out
}
