package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	slgk "github.com/tjhop/slog-gokit"
)

// tsLayout is promlog's: UTC with milliseconds, so that our lines look like
// those of the other Prometheus exporters.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// loggers are the exporter's go-kit logger and the same output as the
// *slog.Logger exporter-toolkit wants.
type loggers struct {
	kit  log.Logger
	slog *slog.Logger
}

// levels maps --log.level onto go-kit's filter and slog's level.
var levels = map[string]struct {
	allow level.Option
	slog  slog.Level
}{
	"debug": {level.AllowDebug(), slog.LevelDebug},
	"info":  {level.AllowInfo(), slog.LevelInfo},
	"warn":  {level.AllowWarn(), slog.LevelWarn},
	"error": {level.AllowError(), slog.LevelError},
}

// newLoggers writes lines at lvl (debug, info, warn, error) and above to w,
// as logfmt or json.
func newLoggers(w io.Writer, lvl, format string) (loggers, error) {
	var base log.Logger
	switch format {
	case "logfmt":
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return loggers{}, fmt.Errorf("unknown log format %q: want logfmt or json", format)
	}
	lv, ok := levels[lvl]
	if !ok {
		return loggers{}, fmt.Errorf("unknown log level %q: want debug, info, warn or error", lvl)
	}
	ts := log.TimestampFormat(func() time.Time { return time.Now().UTC() }, tsLayout)
	// Caller(5) skips go-kit's own frames between level.X(l).Log and here,
	// as promlog's did.
	kit := level.NewFilter(log.With(base, "ts", ts, "caller", log.Caller(5)), lv.allow)
	// The slog handler adds its own time and caller, and filters by the
	// level it is given before building the record at all.
	bridge := slgk.NewGoKitHandler(level.NewFilter(slogOrder(base), lv.allow), lv.slog)
	return loggers{kit: kit, slog: slog.New(bridge)}, nil
}

// slogOrder makes the lines slog-gokit writes look like ours: it names the
// time "time" and puts it after the level and caller; ours start with
// "ts", then "caller".
func slogOrder(next log.Logger) log.Logger {
	return log.LoggerFunc(func(kv ...any) error {
		out := make([]any, 0, len(kv))
		var rest []any
		for i := 0; i+1 < len(kv); i += 2 {
			switch t, isTime := kv[i+1].(time.Time); {
			case kv[i] == slog.TimeKey && isTime:
				out = append(out, "ts", t.UTC().Format(tsLayout))
			case kv[i] == "caller":
				rest = append([]any{kv[i], kv[i+1]}, rest...)
			default:
				rest = append(rest, kv[i], kv[i+1])
			}
		}
		if len(kv)%2 == 1 {
			rest = append(rest, kv[len(kv)-1])
		}
		return next.Log(append(out, rest...)...)
	})
}
