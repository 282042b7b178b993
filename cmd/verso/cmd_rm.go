package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newRmCommand(getenv func(string) string) *cobra.Command {
	return newPathWriteCommand(getenv, &cobra.Command{
		Use:   "rm PATH",
		Short: "Delete a key or a namespace",
		Long: `Rm deletes the key or namespace at PATH, a namespace with everything below
it, in one new revision. Nothing is lost: the history keeps it, and
'verso revert' brings it back.`,
		Example: `  verso rm /app/db/port -m "the default port will do"`,
	}, "DELETE", func(c *clientConn, ctx context.Context, p verso.Path, o *client.WriteOptions) (verso.Revision, error) {
		return c.Delete(ctx, p, o)
	})
}
