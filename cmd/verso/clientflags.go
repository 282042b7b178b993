package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

// Defaults of the client commands: the server `verso serve` runs when told
// nothing.
const (
	defaultServerURL = "http://127.0.0.1:8080"
	defaultMount     = "/config"
)

// clientFlags are the flags every client command takes: which server, where
// its tree is mounted, and who is asking. The password never comes from the
// command line, where a process listing would show it: it is read from
// VERSO_PASSWORD or, when that is unset and verso runs in a terminal,
// asked for without echo.
type clientFlags struct {
	server, mount, user string
	lockTokens          []string
	getenv              func(string) string
}

// bind defines --server, --mount and --user on cmd, writing into f.
func (f *clientFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.server, "server", defaultServerURL, "`URL` of the verso server (env VERSO_URL)")
	fs.StringVar(&f.mount, "mount", defaultMount, "URL `PATH` under which the server serves the tree (env VERSO_MOUNT)")
	fs.StringVar(&f.user, "user", "", "`NAME` to authenticate as; the password is read from VERSO_PASSWORD or asked for (env VERSO_USER)")
	fs.StringArrayVar(&f.lockTokens, "lock-token", nil, "`TOKEN` of a lock you hold (verso lock), sent with every write; repeat for several (env VERSO_LOCK_TOKEN, space-separated)")
}

// setting returns the value of a flag, or of its environment variable when
// the flag was not given and the variable is set.
func (f *clientFlags) setting(cmd *cobra.Command, flag, env, value string) string {
	if !cmd.Flags().Changed(flag) {
		if v := f.getenv(env); v != "" {
			return v
		}
	}
	return value
}

// connect returns a client of the server the flags and environment name.
// A setting verso cannot use is a usage error.
func (f *clientFlags) connect(cmd *cobra.Command) (*clientConn, error) {
	server := f.setting(cmd, "server", "VERSO_URL", f.server)
	mount := f.setting(cmd, "mount", "VERSO_MOUNT", f.mount)
	user := f.setting(cmd, "user", "VERSO_USER", f.user)
	if err := validateMount(mount); err != nil {
		return nil, usageErrorf(cmd, "invalid --mount (or VERSO_MOUNT) %q: %v", mount, err)
	}
	password := f.getenv("VERSO_PASSWORD")
	if user != "" && password == "" {
		var err error
		if password, err = askPassword(cmd, user); err != nil {
			return nil, err
		}
	}
	tokens := f.lockTokens
	if !cmd.Flags().Changed("lock-token") {
		tokens = strings.Fields(f.getenv("VERSO_LOCK_TOKEN"))
	}
	for i, t := range tokens {
		tokens[i] = strings.Trim(t, "<>")
	}
	c, err := client.New(server, &client.Options{Mount: mount, User: user, Password: password, LockTokens: tokens})
	if err != nil {
		return nil, usageErrorf(cmd, "invalid --server (or VERSO_URL) %q: want a URL like %s", server, defaultServerURL)
	}
	return &clientConn{Client: c, url: server}, nil
}

// askPassword asks for user's password on the terminal, without echo. When
// standard input is not a terminal (a script, a pipe) there is no one to
// ask, and it says where the password should have come from.
func askPassword(cmd *cobra.Command, user string) (string, error) {
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", fmt.Errorf("no password for user %s: set VERSO_PASSWORD (verso asks for it only in a terminal)", user)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Password for %s: ", user)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// clientConn is a client together with the URL it was made for, which
// error messages name.
type clientConn struct {
	*client.Client
	url string
}

// explain turns an error of the client into the line verso prints: the
// server's reason for a refused request, or that the server could not be
// reached at all.
func (c *clientConn) explain(err error) error {
	var ce *client.Error
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		// The server's reasons may start with the store's "verso: ", which
		// main already prints.
		msg := strings.TrimPrefix(ce.Message, "verso: ")
		if ce.Status == http.StatusLocked {
			msg = strings.Replace(msg, "submit the lock token in an If header", "send the lock's token with --lock-token or VERSO_LOCK_TOKEN", 1)
		}
		return &client.Error{Status: ce.Status, Message: msg, Violations: ce.Violations}
	case errors.As(err, &ue) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach verso at %s: %w", c.url, ue.Err)
	}
	return err
}

// usageErrorf returns a usage error of cmd.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{cmd: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// parsePathArg checks a path given on the command line; an invalid one is a
// usage error that names it.
func parsePathArg(cmd *cobra.Command, s string) (verso.Path, error) {
	p, err := verso.ParsePath(s)
	if err != nil {
		why := err.Error()
		var pe *verso.PathError
		if errors.As(err, &pe) {
			why = strings.TrimPrefix(pe.Err.Error(), verso.ErrInvalidPath.Error()+": ")
		}
		return "", usageErrorf(cmd, "invalid path %q: %s", s, why)
	}
	return p, nil
}

// optionalPathArg returns the path in args, or the root when there is none.
func optionalPathArg(cmd *cobra.Command, args []string) (verso.Path, error) {
	if len(args) == 0 {
		return verso.Root, nil
	}
	return parsePathArg(cmd, args[0])
}

// parseRevFlag reads the revision given to flag (a number or HEAD); an
// invalid one is a usage error.
// connectAt reads the -r flag's revision and connects: how every command
// that reads as of a revision (get, ls, schema get) begins.
func (f *clientFlags) connectAt(cmd *cobra.Command, rev string) (*clientConn, verso.Revision, error) {
	r, err := parseRevFlag(cmd, "r", rev)
	if err != nil {
		return nil, 0, err
	}
	c, err := f.connect(cmd)
	return c, r, err
}

func parseRevFlag(cmd *cobra.Command, flag, s string) (verso.Revision, error) {
	rev, err := verso.ParseRevision(s)
	if err != nil {
		return 0, usageErrorf(cmd, "invalid -%s %q: want a revision number or HEAD", flag, s)
	}
	return rev, nil
}

// parseRevNumber reads a revision that must be a number from 1 up.
func parseRevNumber(cmd *cobra.Command, flag, s string) (verso.Revision, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usageErrorf(cmd, "invalid %s %q: want a revision number from 1 up", flag, s)
	}
	return verso.Revision(n), nil
}

// argsBetween accepts from min to max positional arguments; usage names
// them for the message ("PATH [FILE|-]").
func argsBetween(min, max int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return usageErrorf(cmd, "%s needs %s", cmd.CommandPath(), usage)
		case len(args) > max:
			return usageErrorf(cmd, "%s takes %s, got %d arguments %q", cmd.CommandPath(), usage, len(args), args)
		}
		return nil
	}
}

// printCommitted reports a write the way svn does.
func printCommitted(cmd *cobra.Command, rev verso.Revision) {
	fmt.Fprintf(cmd.OutOrStdout(), "Committed revision %d.\n", rev)
}
