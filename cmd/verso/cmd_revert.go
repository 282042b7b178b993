package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newRevertCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var rev, undo, message string
	cmd := &cobra.Command{
		Use:   "revert PATH -r N | revert --undo N",
		Short: "Restore a path as of an old revision, or undo a revision",
		Long: `Revert changes the tree back, in one new revision; history is never
rewritten, so a revert can itself be reverted.

'verso revert PATH -r N' brings PATH, and everything below it, back to its
state at revision N: what was added since is deleted, what was deleted comes
back, what changed gets its old value.

'verso revert --undo N' reverse-applies revision N alone. It refuses, naming
the paths, when a later revision changed the same paths, since undoing N
would silently discard that later work; restore those paths with -r instead.

It prints "Nothing to revert." when the tree is already as asked.

Inside a working copy (see 'verso checkout'), 'verso revert FILE...' without
-r or --undo drops the local changes of each FILE instead: it gets the
content it was checked out or updated with back, an added FILE is removed,
and a conflict is cleared.`,
		Example: `  verso revert /app/db -r 12
  verso revert --undo 15 -m "host change broke the staging app"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if _, ok := openWC(); ok && rev == "" && undo == "" && len(args) > 0 {
				return nil // files of the working copy, any number
			}
			return argsBetween(0, 1, "PATH")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if w, ok := openWC(); ok && rev == "" && undo == "" && len(args) > 0 {
				return wcRevert(cmd, w, args) // inside a working copy: drop local changes
			}
			var p verso.Path
			var to, undone verso.Revision
			var err error
			switch {
			case undo != "" && (len(args) > 0 || rev != ""):
				return usageErrorf(cmd, "give either PATH -r N or --undo N, not both")
			case undo != "":
				if undone, err = parseRevNumber(cmd, "--undo", undo); err != nil {
					return err
				}
			case len(args) == 1 && rev != "":
				if p, err = parsePathArg(cmd, args[0]); err != nil {
					return err
				}
				if to, err = verso.ParseRevision(rev); err != nil || to == verso.Head {
					return usageErrorf(cmd, "invalid -r %q: want a revision number", rev)
				}
			default:
				return usageErrorf(cmd, "%s needs PATH -r N (restore PATH as of revision N) or --undo N", cmd.CommandPath())
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			var res *client.RevertResult
			if undone > 0 {
				res, err = c.Undo(cmd.Context(), undone, message)
			} else {
				res, err = c.Restore(cmd.Context(), p, to, message)
			}
			if err != nil {
				if undone > 0 && errors.Is(err, verso.ErrConflict) {
					return fmt.Errorf("cannot undo r%d: %w", undone, c.explain(err))
				}
				return c.explain(err)
			}
			w := cmd.OutOrStdout()
			switch {
			case !res.Changed || res.Commit == nil:
				fmt.Fprintln(w, "Nothing to revert.")
			case undone > 0:
				fmt.Fprintf(w, "Undid r%d in revision %d.\n", undone, res.Commit.Rev)
			default:
				fmt.Fprintf(w, "Reverted %s to r%d in revision %d.\n", p, to, res.Commit.Rev)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&rev, "revision", "r", "", "restore PATH as of revision `N`")
	fs.StringVar(&undo, "undo", "", "reverse-apply revision `N`")
	fs.StringVarP(&message, "message", "m", "", "commit `MESSAGE` (default: Revert PATH to rN, or Undo rN)")
	flags.bind(cmd)
	return cmd
}
