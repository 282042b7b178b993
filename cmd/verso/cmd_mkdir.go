package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newMkdirCommand(getenv func(string) string) *cobra.Command {
	return newPathWriteCommand(getenv, &cobra.Command{
		Use:   "mkdir PATH",
		Short: "Create a namespace",
		Long: `Mkdir creates the namespace PATH in one new revision. The namespace holding
it must exist already; the root namespace / always does.`,
		Example: `  verso mkdir /app
  verso mkdir /app/db -m "settings of the database"`,
	}, "MKCOL", func(c *clientConn, ctx context.Context, p verso.Path, o *client.WriteOptions) (verso.Revision, error) {
		return c.Mkdir(ctx, p, o)
	})
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
