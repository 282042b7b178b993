package main

import (
	"github.com/spf13/cobra"

	"github.com/verso-config/verso/client"
)

func newRmCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.WriteOptions
	cmd := &cobra.Command{
		Use:   "rm PATH",
		Short: "Delete a key or a namespace",
		Long: `Rm deletes the key or namespace at PATH, a namespace with everything below
it, in one new revision. Nothing is lost: the history keeps it, and
'verso revert' brings it back.`,
		Example: `  verso rm /app/db/port -m "the default port will do"`,
		Args:    argsBetween(1, 1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			rev, err := c.Delete(cmd.Context(), p, &opts)
			if err != nil {
				return c.explain(err)
			}
			printCommitted(cmd, rev)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "commit `MESSAGE` (default: DELETE and the path)")
	flags.bind(cmd)
	return cmd
}
