package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/internal/wc"
)

func newCheckoutCommand(getenv func(string) string) *cobra.Command {
	var mount, user string
	cmd := &cobra.Command{
		Use:     "checkout URL[/PATH] DIR",
		Aliases: []string{"co"},
		Short:   "Check out a namespace as a working copy of plain files",
		Long: `Checkout writes the namespace at PATH (the root when absent), as of the
server's newest revision, into DIR: each namespace a folder, each key a file.
DIR must not exist or be empty. A .verso folder in DIR records the server,
the revision each file was checked out at and its content then.

Inside a working copy, edit files with any tool, then:

  verso status          what changed locally (M, A, D, C)
  verso diff            the local changes as a unified diff
  verso commit -m MSG   send every change as one revision, or none of it
  verso update          bring in what changed on the server
  verso revert FILE     drop the local changes of FILE
  verso resolve FILE    mark a conflicted FILE as resolved

A new file or folder is added on the next commit and a missing one deleted.
A commit is guarded by the revision of each file: when someone changed one
of them on the server meanwhile, nothing is committed and the command names
the files that are out of date; 'verso update' brings their changes in. A
file changed on both sides becomes conflicted: update keeps yours as
FILE.mine and the server's as FILE.rN, and writes both, between conflict
markers, into FILE. Edit FILE to what it should be, then run
'verso resolve FILE' and commit.`,
		Example: `  verso checkout http://127.0.0.1:8080/config/app app
  cd app && vi db/host && verso status && verso commit -m "move the database"`,
		Args: argsBetween(2, 2, "URL[/PATH] DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("mount") {
				if v := getenv("VERSO_MOUNT"); v != "" {
					mount = v
				}
			}
			if err := validateMount(mount); err != nil {
				return usageErrorf(cmd, "invalid --mount (or VERSO_MOUNT) %q: %v", mount, err)
			}
			server, p, err := splitCheckoutURL(args[0], mount)
			if err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			c, err := wcConnect(cmd, getenv, server, mount, user)
			if err != nil {
				return err
			}
			if _, err := wc.Checkout(cmd.Context(), c.Client, server, mount, p, args[1], cmd.OutOrStdout()); err != nil {
				return c.explain(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mount, "mount", defaultMount, "URL `PATH` under which the server serves the tree (env VERSO_MOUNT)")
	cmd.Flags().StringVar(&user, "user", "", "`NAME` to authenticate as; the password is read from VERSO_PASSWORD (env VERSO_USER)")
	return cmd
}

// splitCheckoutURL splits http://HOST/MOUNT/PATH into the server's URL and
// the path of the tree.
func splitCheckoutURL(s, mount string) (string, verso.Path, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("invalid URL %q: want http://HOST:PORT%s/PATH", s, mount)
	}
	rest := u.Path
	if rest != "" && rest != "/" {
		var ok bool
		if rest, ok = strings.CutPrefix(rest, mount); !ok || (rest != "" && rest[0] != '/') {
			return "", "", fmt.Errorf("URL %q is not below the mount %s (see --mount)", s, mount)
		}
	}
	p, err := verso.ParsePath(rest)
	if err != nil {
		return "", "", fmt.Errorf("invalid path in URL %q: %v", s, err)
	}
	return u.Scheme + "://" + u.Host, p, nil
}

// wcConnect returns a client of server for a working-copy command.
func wcConnect(cmd *cobra.Command, getenv func(string) string, server, mount, user string) (*clientConn, error) {
	if !cmd.Flags().Changed("user") {
		user = getenv("VERSO_USER")
	}
	c, err := client.New(server, &client.Options{Mount: mount, User: user, Password: getenv("VERSO_PASSWORD")})
	if err != nil {
		return nil, err
	}
	return &clientConn{Client: c, url: server}, nil
}

// openWC opens the working copy holding the current folder, if any.
func openWC() (*wc.WC, bool) {
	w, err := wc.Open(".")
	return w, err == nil
}

// mustOpenWC opens the working copy holding the current folder, or says
// that there is none.
func mustOpenWC() (*wc.WC, error) {
	w, err := wc.Open(".")
	if errors.Is(err, wc.ErrNotWorkingCopy) {
		return nil, fmt.Errorf("%w (run 'verso checkout URL DIR' first)", err)
	}
	return w, err
}

// wcArgs turns file arguments into paths relative to the working copy.
func wcArgs(cmd *cobra.Command, w *wc.WC, args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		r, err := w.Rel(a)
		if err != nil {
			return nil, usageErrorf(cmd, "%v", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// wcServer connects to the server a working copy came from.
func wcServer(cmd *cobra.Command, getenv func(string) string, w *wc.WC, user string) (*clientConn, error) {
	server, mount, _ := w.Server()
	return wcConnect(cmd, getenv, server, mount, user)
}
