package redisstore

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// The options given their zero values get the defaults, as an option left
// out does, and the ping interval is at most a third of WithFailClosedAfter,
// whether given or the default.
func TestOptionsResolve(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	epoch := time.Unix(1e9, 0)
	clock := func() time.Time { return epoch }
	type want struct {
		prefix                       string
		failClosed, revoke, interval time.Duration
		logger                       *slog.Logger
		now                          time.Time // zero: time.Now
	}
	defaults := want{DefaultPrefix, 0, 2 * time.Second, 5 * time.Second, slog.Default(), time.Time{}}
	tests := []struct {
		name string
		opts []Option
		want want
	}{
		{"none", nil, defaults},
		{"zero values", []Option{WithPrefix(""), WithFailClosedAfter(0), WithRevokeTimeout(0), WithPingInterval(0), WithLogger(nil), WithClock(nil)}, defaults},
		{"the last one given", []Option{WithPrefix("app"), WithPrefix("")}, defaults},
		{"every option", []Option{WithPrefix("app"), WithFailClosedAfter(time.Minute), WithRevokeTimeout(time.Second), WithPingInterval(time.Second), WithLogger(logger), WithClock(clock)},
			want{"app", time.Minute, time.Second, time.Second, logger, epoch}},
		{"fail closed lowers the default interval", []Option{WithFailClosedAfter(3 * time.Second)},
			want{DefaultPrefix, 3 * time.Second, 2 * time.Second, time.Second, slog.Default(), time.Time{}}},
		{"fail closed lowers a given interval", []Option{WithFailClosedAfter(3 * time.Second), WithPingInterval(2 * time.Second)},
			want{DefaultPrefix, 3 * time.Second, 2 * time.Second, time.Second, slog.Default(), time.Time{}}},
		{"fail closed keeps a shorter interval", []Option{WithPingInterval(200 * time.Millisecond), WithFailClosedAfter(3 * time.Second)},
			want{DefaultPrefix, 3 * time.Second, 2 * time.Second, 200 * time.Millisecond, slog.Default(), time.Time{}}},
		{"an interval of at least 1ms", []Option{WithFailClosedAfter(time.Millisecond)},
			want{DefaultPrefix, time.Millisecond, 2 * time.Second, time.Millisecond, slog.Default(), time.Time{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newConfig(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := want{c.prefix, c.failClosedAfter, c.revokeTimeout, c.pingInterval, c.logger, time.Time{}}
			if now := c.now(); now.Equal(epoch) {
				got.now = now
			} else if time.Since(now).Abs() > time.Minute {
				t.Errorf("the clock says %s; want time.Now or the one given", now)
			}
			if got != tt.want {
				t.Errorf("config = %+v; want %+v", got, tt.want)
			}
		})
	}
}
