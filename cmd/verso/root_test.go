package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// execute runs the verso command line args in-process with env as the
// environment and returns what it wrote and the error it returned.
func execute(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCommand(envMap(env))
	var out, errOut bytes.Buffer
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestRoot_Help(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {}, {"help"}} {
		out, _, err := execute(t, nil, args...)
		if err != nil {
			t.Errorf("verso %q: error %v, want nil", args, err)
		}
		for _, want := range []string{"versioned configuration service", "serve", "Usage:"} {
			if !strings.Contains(out, want) {
				t.Errorf("verso %q printed no %q:\n%s", args, want, out)
			}
		}
	}
}

func TestServe_HelpInProcess(t *testing.T) {
	out, _, err := execute(t, nil, "serve", "--help")
	if err != nil {
		t.Fatalf("verso serve --help: error %v, want nil", err)
	}
	for _, want := range []string{
		"--data", "--listen", "--mount", "--max-value-size", "--log-level", "--log-format",
		"VERSO_DATA", "VERSO_LISTEN", "VERSO_MOUNT", "VERSO_MAX_VALUE_SIZE", "VERSO_LOG_LEVEL", "VERSO_LOG_FORMAT",
		`default "./verso-data"`, `default "127.0.0.1:8080"`, `default "/config"`, "default 1MiB",
		"Examples:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verso serve --help printed no %q:\n%s", want, out)
		}
	}
}

func TestRoot_UsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"serv"}, "did you mean serve?"},
		{[]string{"--nosuch"}, "unknown flag: --nosuch"},
		{[]string{"serve", "--nosuch"}, "unknown flag: --nosuch"},
		{[]string{"serve", "extra"}, "takes no arguments"},
		{[]string{"serve", "--max-value-size", "lots"}, "lots"},
	}
	for _, tt := range tests {
		_, _, err := execute(t, nil, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("verso %q: error %v, want one containing %q", tt.args, err, tt.want)
		}
		var w bytes.Buffer
		if got := exitCode(err, &w); got != 2 {
			t.Errorf("exitCode(verso %q: %v) = %d, want 2", tt.args, err, got)
		}
		if !strings.Contains(w.String(), "--help' for usage") {
			t.Errorf("verso %q reported %q, want a pointer to --help", tt.args, w.String())
		}
	}
}

func TestServe_BadSetting(t *testing.T) {
	_, _, err := execute(t, map[string]string{"VERSO_MOUNT": "config"}, "serve", "--data", t.TempDir())
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "mount" {
		t.Fatalf("verso serve with VERSO_MOUNT=config: error %v, want a *ConfigError for mount", err)
	}
	if got := exitCode(err, &bytes.Buffer{}); got != 2 {
		t.Errorf("exitCode(%v) = %d, want 2", err, got)
	}
}

func TestExitCode(t *testing.T) {
	if got := exitCode(nil, &bytes.Buffer{}); got != 0 {
		t.Errorf("exitCode(nil) = %d, want 0", got)
	}
	var w bytes.Buffer
	if got := exitCode(errors.New("boom"), &w); got != 1 {
		t.Errorf("exitCode(boom) = %d, want 1", got)
	}
	if got, want := w.String(), "verso: boom\n"; got != want {
		t.Errorf("exitCode(boom) wrote %q, want %q", got, want)
	}
}

func TestLoadConfig_FlagsWinOverEnv(t *testing.T) {
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.bindFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9999", "--max-value-size=2MB", "--data", "flagdir"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	env := map[string]string{
		"VERSO_LISTEN":         "127.0.0.1:1111",
		"VERSO_MAX_VALUE_SIZE": "lots", // ignored: the flag is given
		"VERSO_MOUNT":          "/kv",
		"VERSO_LOG_FORMAT":     "json",
	}
	if err := loadConfig(fs, cfg, envMap(env)); err != nil {
		t.Fatalf("loadConfig() = %v, want nil", err)
	}
	// The defaults, with what the flags and the environment changed.
	want := DefaultConfig()
	want.Data = "flagdir"
	want.Listen = "127.0.0.1:9999"
	want.Mount = "/kv"
	want.MaxValueSize = 2000000
	want.LogFormat = "json"
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("loadConfig() mismatch (-want +got):\n%s", diff)
	}
}
