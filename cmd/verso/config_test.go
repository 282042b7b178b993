package main

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// envMap returns a getenv reading from m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfig_Default(t *testing.T) {
	cfg := DefaultConfig()
	want := &Config{
		Data:         "./verso-data",
		Listen:       "127.0.0.1:8080",
		Mount:        "/config",
		MaxValueSize: 1 << 20,
		LogLevel:     "info",
		LogFormat:    "text",
		MaxConns:     16384,
		MaxRequests:  512,
		FastLane:     true,

		HeaderTimeout: 10 * time.Second,
		IdleTimeout:   120 * time.Second,
		BodyTimeout:   60 * time.Second,
		BodyMinRate:   1 << 10,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("DefaultConfig() mismatch (-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v, want nil", err)
	}
}

func TestConfig_ApplyEnv(t *testing.T) {
	cfg := DefaultConfig()
	err := cfg.ApplyEnv(envMap(map[string]string{
		"VERSO_DATA":           "/var/lib/verso",
		"VERSO_LISTEN":         ":9090",
		"VERSO_MOUNT":          "/kv",
		"VERSO_MAX_VALUE_SIZE": "512KiB",
		"VERSO_LOG_LEVEL":      "debug",
		"VERSO_LOG_FORMAT":     "json",
		"VERSO_UNRELATED":      "x",
	}))
	if err != nil {
		t.Fatalf("ApplyEnv() = %v, want nil", err)
	}
	want := &Config{
		Data:         "/var/lib/verso",
		Listen:       ":9090",
		Mount:        "/kv",
		MaxValueSize: 512 << 10,
		LogLevel:     "debug",
		LogFormat:    "json",
		MaxConns:     16384,
		MaxRequests:  512,
		FastLane:     true,

		HeaderTimeout: 10 * time.Second,
		IdleTimeout:   120 * time.Second,
		BodyTimeout:   60 * time.Second,
		BodyMinRate:   1 << 10,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config after ApplyEnv mismatch (-want +got):\n%s", diff)
	}
}

func TestConfig_ApplyEnvEmptyKeepsDefault(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.ApplyEnv(envMap(map[string]string{"VERSO_DATA": ""})); err != nil {
		t.Fatalf("ApplyEnv() = %v, want nil", err)
	}
	if cfg.Data != "./verso-data" {
		t.Errorf("Data = %q, want the default %q", cfg.Data, "./verso-data")
	}
}

func TestConfig_ApplyEnvBadSize(t *testing.T) {
	cfg := DefaultConfig()
	err := cfg.ApplyEnv(envMap(map[string]string{"VERSO_MAX_VALUE_SIZE": "lots"}))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("ApplyEnv() = %v, want a *ConfigError", err)
	}
	if ce.Field != "max-value-size" || ce.Value != "lots" || !errors.Is(err, errInvalidSize) {
		t.Errorf("ApplyEnv() = %#v, want Field max-value-size, Value lots, errInvalidSize", ce)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		field string // "" for valid
		err   error
	}{
		{"defaults", nil, "", nil},
		{"any interface", map[string]string{"VERSO_LISTEN": ":8080"}, "", nil},
		{"free port", map[string]string{"VERSO_LISTEN": "127.0.0.1:0"}, "", nil},
		{"ipv6", map[string]string{"VERSO_LISTEN": "[::1]:8080"}, "", nil},
		{"host name", map[string]string{"VERSO_LISTEN": "localhost:8080"}, "", nil},
		{"two loops", map[string]string{"VERSO_FAST_LANE_LOOPS": "2"}, "", nil},
		{"no loops", map[string]string{"VERSO_FAST_LANE_LOOPS": "-1"}, "", nil},
		{"loops below -1", map[string]string{"VERSO_FAST_LANE_LOOPS": "-2"}, "fast-lane-loops", errInvalidLoops},
		{"listen without port", map[string]string{"VERSO_LISTEN": "127.0.0.1"}, "listen", errInvalidListen},
		{"listen port not a number", map[string]string{"VERSO_LISTEN": "127.0.0.1:http"}, "listen", errInvalidListen},
		{"listen port too big", map[string]string{"VERSO_LISTEN": "127.0.0.1:65536"}, "listen", errInvalidListen},
		{"listen garbage", map[string]string{"VERSO_LISTEN": "not an address"}, "listen", errInvalidListen},
		{"mount root", map[string]string{"VERSO_MOUNT": "/"}, "", nil},
		{"mount deep", map[string]string{"VERSO_MOUNT": "/a/b-c/d_e"}, "", nil},
		{"mount relative", map[string]string{"VERSO_MOUNT": "config"}, "mount", errInvalidMount},
		{"mount dotdot", map[string]string{"VERSO_MOUNT": "/config/../etc"}, "mount", errInvalidMount},
		{"mount dotdot in name", map[string]string{"VERSO_MOUNT": "/con..fig"}, "mount", errInvalidMount},
		{"mount dot", map[string]string{"VERSO_MOUNT": "/./config"}, "mount", errInvalidMount},
		{"mount double slash", map[string]string{"VERSO_MOUNT": "//config"}, "mount", errInvalidMount},
		{"mount trailing slash", map[string]string{"VERSO_MOUNT": "/config/"}, "mount", errInvalidMount},
		{"mount query", map[string]string{"VERSO_MOUNT": "/config?x"}, "mount", errInvalidMount},
		{"size bytes", map[string]string{"VERSO_MAX_VALUE_SIZE": "100"}, "", nil},
		{"size zero", map[string]string{"VERSO_MAX_VALUE_SIZE": "0"}, "max-value-size", errInvalidSize},
		{"size negative", map[string]string{"VERSO_MAX_VALUE_SIZE": "-1MiB"}, "max-value-size", errInvalidSize},
		{"svn uuid", map[string]string{"VERSO_SVN_UUID": "1e9de237-2fe3-44ae-99f7-8b9149a9630a"}, "", nil},
		{"svn uuid invalid", map[string]string{"VERSO_SVN_UUID": "not-a-uuid"}, "svn-uuid", errInvalidUUID},
		{"level debug", map[string]string{"VERSO_LOG_LEVEL": "debug"}, "", nil},
		{"level upper case", map[string]string{"VERSO_LOG_LEVEL": "WARN"}, "", nil},
		{"level error", map[string]string{"VERSO_LOG_LEVEL": "error"}, "", nil},
		{"level unknown", map[string]string{"VERSO_LOG_LEVEL": "verbose"}, "log-level", errInvalidLevel},
		{"format json", map[string]string{"VERSO_LOG_FORMAT": "json"}, "", nil},
		{"format unknown", map[string]string{"VERSO_LOG_FORMAT": "xml"}, "log-format", errInvalidFormat},
		{"data empty", nil, "data", errEmpty},
		{"timeouts", map[string]string{"VERSO_HEADER_TIMEOUT": "2s", "VERSO_IDLE_TIMEOUT": "1m", "VERSO_BODY_TIMEOUT": "30s"}, "", nil},
		{"timeouts off", map[string]string{"VERSO_HEADER_TIMEOUT": "0", "VERSO_IDLE_TIMEOUT": "0", "VERSO_BODY_TIMEOUT": "0", "VERSO_BODY_MIN_RATE": "0"}, "", nil},
		{"header timeout negative", map[string]string{"VERSO_HEADER_TIMEOUT": "-1s"}, "header-timeout", errInvalidTimeout},
		{"body timeout negative", map[string]string{"VERSO_BODY_TIMEOUT": "-5s"}, "body-timeout", errInvalidTimeout},
		{"body min rate", map[string]string{"VERSO_BODY_MIN_RATE": "4KiB"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.name == "data empty" {
				cfg.Data = ""
			}
			if err := cfg.ApplyEnv(envMap(tt.env)); err != nil {
				t.Fatalf("ApplyEnv(%v) = %v, want nil", tt.env, err)
			}
			err := cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v, want a *ConfigError", err)
			}
			if ce.Field != tt.field || !errors.Is(err, tt.err) {
				t.Errorf("Validate() = %v (field %q), want field %q wrapping %v", err, ce.Field, tt.field, tt.err)
			}
		})
	}
}

func TestConfigError_Error(t *testing.T) {
	err := &ConfigError{Field: "max-value-size", Value: "lots", Err: errInvalidSize}
	want := `invalid --max-value-size (or VERSO_MAX_VALUE_SIZE) "lots": ` + errInvalidSize.Error()
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"100B", 100, true},
		{"512KiB", 512 << 10, true},
		{"512kib", 512 << 10, true},
		{"1MiB", 1 << 20, true},
		{"1 MiB", 1 << 20, true},
		{"2GiB", 2 << 30, true},
		{"2MB", 2000000, true},
		{"3kB", 3000, true},
		{"1GB", 1000000000, true},
		{" 7 ", 7, true},
		{"-1", -1, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5MiB", 0, false},
		{"1M", 0, false},
		{"1TiB", 0, false},
		{"ten", 0, false},
		{"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("ParseByteSize(%q) = %d, %v, want %d, nil", tt.in, got, err, tt.want)
		}
		if !tt.ok && err == nil {
			t.Errorf("ParseByteSize(%q) = %d, nil, want an error", tt.in, got)
		}
	}
}

func TestByteSize_String(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{100, "100"},
		{1 << 10, "1KiB"},
		{1 << 20, "1MiB"},
		{3 << 30, "3GiB"},
		{1536 << 10, "1536KiB"},
		{2000000, "2000000"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v, want %d (round trip)", tt.in.String(), back, err, int64(tt.in))
		}
	}
}
