package main

import (
	"github.com/spf13/cobra"
)

func newUpdateCommand(getenv func(string) string) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:     "update",
		Aliases: []string{"up"},
		Short:   "Bring the server's changes into a working copy",
		Long: `Update brings everything that changed on the server since the working copy's
revisions into it, up to the newest revision, printing a line per path as
svn does: U updated, A added, D deleted, G the same change on both sides,
C conflicted.

Local changes are never lost. A file changed both locally and on the server
becomes conflicted: your version is kept as FILE.mine, the server's as
FILE.rN, and FILE holds both between conflict markers. Edit FILE, then run
'verso resolve FILE' (or 'verso revert FILE' to take the server's version).`,
		Args: commandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := mustOpenWC()
			if err != nil {
				return err
			}
			c, err := wcServer(cmd, getenv, w, user)
			if err != nil {
				return err
			}
			if _, err := w.Update(cmd.Context(), c.Client, cmd.OutOrStdout()); err != nil {
				return c.explain(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "`NAME` to authenticate as; the password is read from VERSO_PASSWORD (env VERSO_USER)")
	return cmd
}
