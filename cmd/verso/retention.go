package main

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/verso-config/verso"
)

// pruneInterval is how often verso serve prunes history when --keep-versions
// or --keep-for is set. The first pruning runs at start.
const pruneInterval = time.Minute

// The causes of a ConfigError for the retention flags.
var (
	errInvalidVersions = errors.New("want a whole number of versions per key, 0 (keep all) or more")
	errInvalidDuration = errors.New("want a duration such as 720h or 90m, 0 (keep all) or more")
)

// Retention returns the history policy the configuration asks for.
func (c *Config) Retention() verso.Retention {
	return verso.Retention{KeepVersions: c.KeepVersions, KeepFor: c.KeepFor}
}

// validateRetention refuses negative --keep-versions and --keep-for.
func (c *Config) validateRetention() error {
	if c.KeepVersions < 0 {
		return &ConfigError{Field: "keep-versions", Value: strconv.Itoa(c.KeepVersions), Err: errInvalidVersions}
	}
	if c.KeepFor < 0 {
		return &ConfigError{Field: "keep-for", Value: c.KeepFor.String(), Err: errInvalidDuration}
	}
	return nil
}

// intValue is an int field as a pflag.Value. Validate decides which
// numbers are allowed.
type intValue int

func (n *intValue) Set(v string) error {
	i, err := strconv.Atoi(v)
	if err != nil {
		return errInvalidVersions
	}
	*n = intValue(i)
	return nil
}

func (n *intValue) String() string { return strconv.Itoa(int(*n)) }
func (n *intValue) Type() string   { return "int" }

// durationValue is a time.Duration field as a pflag.Value, written as Go
// writes durations (720h, 90m, 1h30m); a bare 0 is allowed.
type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return errInvalidDuration
	}
	*d = durationValue(x)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }
func (d *durationValue) Type() string   { return "duration" }

// startPruning prunes history by policy in the background: at once, then
// every interval, until stop is called; stop waits for a pruning in
// progress to stop (it does, between two of its steps). With the zero
// policy it does nothing.
func startPruning(p verso.Pruner, policy verso.Retention, interval time.Duration, log *slog.Logger) (stop func()) {
	if policy.IsZero() {
		return func() {}
	}
	log.Info("pruning history in the background", "keep_versions", policy.KeepVersions, "keep_for", policy.KeepFor.String(), "every", interval.String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			pruneOnce(ctx, p, policy, log)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// pruneOnce runs one Prune and logs what it dropped.
func pruneOnce(ctx context.Context, p verso.Pruner, policy verso.Retention, log *slog.Logger) {
	began := time.Now()
	st, err := p.Prune(ctx, policy, began)
	switch {
	case ctx.Err() != nil || errors.Is(err, verso.ErrClosed):
		// Stopping: the next start finishes the work.
	case err != nil:
		log.Error("prune history", "err", err)
	case st.Versions > 0 || st.Commits > 0:
		log.Info("pruned history", "versions", st.Versions, "commits", st.Commits, "history_start", int64(st.Start), "took", time.Since(began).String())
	default:
		log.Debug("pruned history: nothing to drop", "history_start", int64(st.Start), "took", time.Since(began).String())
	}
}
