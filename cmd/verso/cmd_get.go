package main

import (
	"github.com/spf13/cobra"
)

func newGetCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var rev string
	cmd := &cobra.Command{
		Use:     "get PATH",
		Aliases: []string{"cat"},
		Short:   "Print the value of a key",
		Long: `Get writes the value of the key at PATH to stdout, byte for byte, as of the
newest revision or of revision N with -r N. 'cat' is another name for it, as
in svn.`,
		Example: `  verso get /app/db/host
  verso get /app/db/host -r 12 > host.old`,
		Args: argsBetween(1, 1, "PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			c, r, err := flags.connectAt(cmd, rev)
			if err != nil {
				return err
			}
			v, err := c.Get(cmd.Context(), p, r)
			if err != nil {
				return c.explain(err)
			}
			_, err = cmd.OutOrStdout().Write(v.Data)
			return err
		},
	}
	cmd.Flags().StringVarP(&rev, "revision", "r", "HEAD", "read as of revision `N`")
	flags.bind(cmd)
	return cmd
}
