package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newMkdirCommand(getenv func(string) string) *cobra.Command {
	var parents bool
	cmd := newPathWriteCommand(getenv, &cobra.Command{
		Use:   "mkdir PATH",
		Short: "Create a namespace",
		Long: `Mkdir creates the namespace PATH in one new revision. The namespace holding
it must exist already (the root namespace / always does), unless --parents
is given: then, as with svn mkdir --parents, the missing namespaces above
PATH are created too, in the same revision.`,
		Example: `  verso mkdir /app
  verso mkdir /app/db -m "settings of the database"
  verso mkdir --parents /team/app/db`,
	}, "MKCOL", func(c *clientConn, ctx context.Context, p verso.Path, o *client.WriteOptions) (verso.Revision, error) {
		if parents {
			return c.mkdirParents(ctx, p, o)
		}
		rev, err := c.Mkdir(ctx, p, o)
		if err != nil && c.parentMissing(ctx, p, err) {
			return 0, fmt.Errorf("namespace %s does not exist; create it first, or with its parents: verso mkdir --parents %s", p.Parent(), p)
		}
		return rev, err
	})
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "create the missing namespaces above PATH too, in the same revision")
	return cmd
}

// parentMissing reports whether err, the answer to a write of p, is the
// server's refusal because the namespace above p does not exist. The
// server's message suggests curl; the commands suggest verso mkdir.
func (c *clientConn) parentMissing(ctx context.Context, p verso.Path, err error) bool {
	if !errors.Is(err, verso.ErrConflict) || p.Parent() == verso.Root {
		return false
	}
	_, lerr := c.List(ctx, p.Parent(), verso.Head)
	return errors.Is(lerr, verso.ErrNotFound)
}

// mkdirParents creates p and the namespaces missing above it in one
// transaction, and returns the revision it made.
func (c *clientConn) mkdirParents(ctx context.Context, p verso.Path, o *client.WriteOptions) (verso.Revision, error) {
	var missing []verso.Path // nearest first
	for q := p.Parent(); q != verso.Root; q = q.Parent() {
		_, err := c.List(ctx, q, verso.Head)
		if err == nil {
			break
		}
		if !errors.Is(err, verso.ErrNotFound) {
			return 0, err // a key in the way, the server unreachable...
		}
		missing = append(missing, q)
	}
	if len(missing) == 0 {
		return c.Mkdir(ctx, p, o)
	}
	txn := &client.Txn{Message: o.Message}
	if txn.Message == "" {
		txn.Message = "MKCOL " + string(p) + " and its parents"
	}
	for i := len(missing) - 1; i >= 0; i-- {
		txn.Mkdir(missing[i], verso.Cond{})
	}
	txn.Mkdir(p, verso.Cond{})
	cm, err := c.Commit(ctx, txn)
	if err != nil {
		return 0, err
	}
	return cm.Rev, nil
}

// newPathWriteCommand completes cmd as a client command that makes one
// write to the PATH it is given (mkdir, rm): the common flags, -m, and
// svn's "Committed revision N." when write succeeds. method names the
// write in the help of -m.
func newPathWriteCommand(getenv func(string) string, cmd *cobra.Command, method string,
	write func(*clientConn, context.Context, verso.Path, *client.WriteOptions) (verso.Revision, error)) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.WriteOptions
	cmd.Args = argsBetween(1, 1, "PATH")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		p, err := parsePathArg(cmd, args[0])
		if err != nil {
			return err
		}
		c, err := flags.connect(cmd)
		if err != nil {
			return err
		}
		rev, err := write(c, cmd.Context(), p, &opts)
		if err != nil {
			return c.explain(err)
		}
		printCommitted(cmd, rev)
		return nil
	}
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "commit `MESSAGE` (default: "+method+" and the path)")
	flags.bind(cmd)
	return cmd
}
