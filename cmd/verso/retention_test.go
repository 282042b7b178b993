package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

func TestConfig_Retention(t *testing.T) {
	cfg := DefaultConfig()
	if got := cfg.Retention(); !got.IsZero() {
		t.Errorf("DefaultConfig().Retention() = %+v, want the zero policy (keep everything)", got)
	}
	err := cfg.ApplyEnv(envMap(map[string]string{"VERSO_KEEP_VERSIONS": "5", "VERSO_KEEP_FOR": "720h"}))
	if err != nil {
		t.Fatalf("ApplyEnv() = %v, want nil", err)
	}
	if want := (verso.Retention{KeepVersions: 5, KeepFor: 720 * time.Hour}); cfg.Retention() != want {
		t.Errorf("Retention() after ApplyEnv = %+v, want %+v", cfg.Retention(), want)
	}

	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg = DefaultConfig()
	cfg.bindFlags(fs)
	if err := fs.Parse([]string{"--keep-versions", "3", "--keep-for", "90m"}); err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	if want := (verso.Retention{KeepVersions: 3, KeepFor: 90 * time.Minute}); cfg.Retention() != want {
		t.Errorf("Retention() after flags = %+v, want %+v", cfg.Retention(), want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}

	bad := []struct {
		env, value, field string
	}{
		{"VERSO_KEEP_VERSIONS", "-1", "keep-versions"},
		{"VERSO_KEEP_VERSIONS", "many", "keep-versions"},
		{"VERSO_KEEP_FOR", "-1h", "keep-for"},
		{"VERSO_KEEP_FOR", "30", "keep-for"},
		{"VERSO_KEEP_FOR", "a month", "keep-for"},
	}
	for _, tc := range bad {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			cfg := DefaultConfig()
			err := cfg.ApplyEnv(envMap(map[string]string{tc.env: tc.value}))
			if err == nil {
				err = cfg.Validate()
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("%s=%q: error %v, want a *ConfigError for --%s", tc.env, tc.value, err, tc.field)
			}
		})
	}
}

func TestStartPruning(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "verso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, v := range []string{"1", "2", "3"} {
		if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte(v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	stop := startPruning(s, verso.Retention{}, time.Millisecond, log)
	stop() // the zero policy starts nothing

	stop = startPruning(s, verso.Retention{KeepVersions: 1}, 10*time.Millisecond, log)
	defer func() { stop() }() // the stop of the time of return: a no-op once stopped below
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Get(ctx, "/k", 2)
		if errors.Is(err, verso.ErrGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(/k, r2) = %v after 10s of pruning with KeepVersions 1, want ErrGone", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// New versions are pruned at the next tick.
	if _, err := s.Commit(ctx, &verso.Txn{Ops: []verso.Op{{Kind: verso.OpPut, Path: "/k", Value: []byte("4")}}}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.Get(ctx, "/k", 3)
		if errors.Is(err, verso.ErrGone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(/k, r3) = %v after a new version, want ErrGone", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop = func() {}
	if e, err := s.Get(ctx, "/k", verso.Head); err != nil || string(e.Value) != "4" {
		t.Errorf("Get(/k, HEAD) after pruning = %v, %v; want 4", e, err)
	}
}
