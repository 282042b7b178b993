package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// errInvalidCount is the cause of a ConfigError for a count flag.
var errInvalidCount = errors.New("want a whole number, 0 or more")

// errInvalidLoops is the cause of a ConfigError for --fast-lane-loops.
var errInvalidLoops = errors.New("want a whole number: -1, 0 or more")

// errInvalidTimeout is the cause of a ConfigError for a timeout flag.
var errInvalidTimeout = errors.New("want a duration such as 10s or 2m, or 0 for no limit")

// rateValue is a ByteSize field that may also be 0 (off), as a pflag.Value.
type rateValue ByteSize

func (r *rateValue) Set(v string) error {
	if v == "0" {
		*r = 0
		return nil
	}
	return (*ByteSize)(r).Set(v)
}

func (r *rateValue) String() string { return ByteSize(*r).String() }
func (r *rateValue) Type() string   { return "size" }

// countValue is an int field that holds a count, as a pflag.Value.
type countValue int

func (c *countValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errInvalidCount
	}
	*c = countValue(n)
	return nil
}

func (c *countValue) String() string { return strconv.Itoa(int(*c)) }
func (c *countValue) Type() string   { return "int" }

// openAccessLog opens the access log that --access-log names: nil for
// "", stdout for "-", otherwise the file, created if missing (mode 0640)
// and appended to, so that logrotate's copytruncate works. close closes
// what was opened.
func openAccessLog(name string, stdout io.Writer) (w io.Writer, close func() error, err error) {
	switch name {
	case "":
		return nil, func() error { return nil }, nil
	case "-":
		return stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open access log: %w", err)
	}
	return f, f.Close, nil
}
