package main

import (
	"github.com/spf13/cobra"

	"github.com/verso-config/verso/client"
)

func newMkdirCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.WriteOptions
	cmd := &cobra.Command{
		Use:   "mkdir PATH",
		Short: "Create a namespace",
		Long: `Mkdir creates the namespace PATH in one new revision. The namespace holding
it must exist already; the root namespace / always does.`,
		Example: `  verso mkdir /app
  verso mkdir /app/db -m "settings of the database"`,
		Args: argsBetween(1, 1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			rev, err := c.Mkdir(cmd.Context(), p, &opts)
			if err != nil {
				return c.explain(err)
			}
			printCommitted(cmd, rev)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "commit `MESSAGE` (default: MKCOL and the path)")
	flags.bind(cmd)
	return cmd
}
