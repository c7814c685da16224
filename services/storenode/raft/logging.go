package raft

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/logger"
)

// dragonboat has one process-wide logger factory that can be set only once;
// its loggers write to whatever slog.Logger was installed last.
var (
	dbLoggerOnce sync.Once
	dbLogger     atomic.Pointer[slog.Logger]
)

func installLogger(l *slog.Logger) {
	dbLogger.Store(l)
	dbLoggerOnce.Do(func() {
		logger.SetLoggerFactory(func(pkg string) logger.ILogger {
			return &dbLog{pkg: pkg, level: logger.WARNING}
		})
	})
}

// dbLog adapts dragonboat's ILogger to slog. dragonboat is chatty: its
// loggers start at WARNING, and what passes that is Raft chatter (INFO and
// routine warnings) logged at debug; real warnings and errors stay.
type dbLog struct {
	pkg   string
	level logger.LogLevel
}

func (d *dbLog) SetLevel(l logger.LogLevel) { d.level = l }

func (d *dbLog) log(lvl logger.LogLevel, sl slog.Level, format string, args []any) {
	if lvl > d.level {
		return
	}
	l := dbLogger.Load()
	if l == nil {
		return
	}
	l.Log(context.Background(), sl, fmt.Sprintf(format, args...), "component", "dragonboat/"+d.pkg)
}

func (d *dbLog) Debugf(f string, a ...any) { d.log(logger.DEBUG, slog.LevelDebug, f, a) }

// Infof: dragonboat's notes that a shard entered or left quiesce always
// reach the debug log (they are how one sees an idle store go quiet, see
// replica/DESIGN.md); its other INFO chatter only below its level.
func (d *dbLog) Infof(f string, a ...any) {
	if strings.Contains(f, "quiesce") {
		d.log(logger.CRITICAL, slog.LevelDebug, f, a)
		return
	}
	d.log(logger.INFO, slog.LevelDebug, f, a)
}

// Warningf: dragonboat's raft and config packages log routine events
// (elections, an insecure local transport) as warnings; they are debug
// here, as are StaleRead's (our registry reads are stale by design, see
// DESIGN.md).
func (d *dbLog) Warningf(f string, a ...any) {
	lvl := slog.LevelWarn
	// "had N LocalTick msgs in one batch": a shard was stepped late, which
	// says the host is busy, not that anything is wrong; with a store's
	// election timeout of 3 ticks (a single replica, replica/set.go) it
	// would fire at every 2 ticks batched.
	if d.pkg == "raft" || d.pkg == "config" || strings.HasPrefix(f, "StaleRead called") || strings.Contains(f, "LocalTick msgs in one batch") {
		lvl = slog.LevelDebug
	}
	d.log(logger.WARNING, lvl, f, a)
}
func (d *dbLog) Errorf(f string, a ...any) { d.log(logger.ERROR, slog.LevelError, f, a) }
func (d *dbLog) Panicf(f string, a ...any) {
	d.log(logger.CRITICAL, slog.LevelError, f, a)
	panic(fmt.Sprintf(f, a...))
}
