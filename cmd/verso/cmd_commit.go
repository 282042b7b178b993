package main

import (
	"github.com/spf13/cobra"
)

func newCommitCommand(getenv func(string) string) *cobra.Command {
	var message, user string
	var dryRun bool
	cmd := &cobra.Command{
		Use:     "commit -m MESSAGE",
		Aliases: []string{"ci"},
		Short:   "Send the local changes of a working copy as one revision",
		Long: `Commit sends every local change of the working copy (see 'verso status') to
the server as one transaction: it makes exactly one new revision, or
nothing at all. Each file is guarded by the revision it was checked out or
updated at, and a deleted folder by the revision of its last change
below it; if any of them changed on the server since (a key someone added
inside a folder you delete counts), nothing is committed and commit names
them: run 'verso update', then commit again.

It prints nothing when there is nothing to commit.

--dry-run sends nothing to commit: the server answers what the commit would
change and whether every namespace it touches would validate against its
schema (see 'verso schema'), and commit prints that; it fails if the commit
would be refused.`,
		Example: `  verso commit -m "move the database to db2"`,
		Args:    commandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if message == "" {
				return usageErrorf(cmd, "%s needs -m MESSAGE, saying why", cmd.CommandPath())
			}
			w, err := mustOpenWC()
			if err != nil {
				return err
			}
			c, err := wcServer(cmd, getenv, w, user)
			if err != nil {
				return err
			}
			if dryRun {
				d, err := w.DryRun(cmd.Context(), c.Client, message)
				if err != nil {
					return c.explain(err)
				}
				return printDryRun(cmd, d)
			}
			if _, err := w.Commit(cmd.Context(), c.Client, message, cmd.OutOrStdout()); err != nil {
				return c.explain(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", "commit `MESSAGE`")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what the commit would change and whether it validates; commit nothing")
	cmd.Flags().StringVar(&user, "user", "", "`NAME` to authenticate as; the password is read from VERSO_PASSWORD (env VERSO_USER)")
	return cmd
}
