package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
)

func newDiffCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var revs string
	cmd := &cobra.Command{
		Use:   "diff [PATH] -r A[:B]",
		Short: "Show what changed between two revisions",
		Long: `Diff prints what changed at or below PATH (the root / by default) between
revision A and revision B (the newest when B is absent), as a unified diff in
the style of svn diff. Binary values are summarised by size and SHA-256. It
prints nothing when nothing differs.

Inside a working copy (see 'verso checkout'), 'verso diff [FILE...]' without
-r shows the local changes against the checked-out revisions instead.`,
		Example: `  verso diff /app/db -r 12:15
  verso diff /app/db/host -r 12`,
		Args: func(cmd *cobra.Command, args []string) error {
			if _, ok := openWC(); ok && revs == "" {
				return nil // files of the working copy, any number
			}
			return argsBetween(0, 1, "[PATH]")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if w, ok := openWC(); ok && revs == "" {
				return wcDiff(cmd, w, args) // inside a working copy: its local changes
			}
			p, err := optionalPathArg(cmd, args)
			if err != nil {
				return err
			}
			if revs == "" {
				return usageErrorf(cmd, "%s needs -r A[:B], the revisions to compare", cmd.CommandPath())
			}
			from, to, err := parseRevRange(cmd, revs)
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			text, err := c.Diff(cmd.Context(), p, from, to)
			if err != nil {
				return c.explain(err)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
	cmd.Flags().StringVarP(&revs, "revision", "r", "", "compare revision `A` with revision B (A:B) or with the newest (A)")
	flags.bind(cmd)
	return cmd
}

// parseRevRange reads A or A:B; B defaults to the head.
func parseRevRange(cmd *cobra.Command, s string) (from, to verso.Revision, err error) {
	a, b, found := strings.Cut(s, ":")
	bad := usageErrorf(cmd, "invalid -r %q: want A or A:B, revision numbers (B may be HEAD)", s)
	if from, err = verso.ParseRevision(a); err != nil || from == verso.Head {
		return 0, 0, bad
	}
	to = verso.Head
	if found {
		if to, err = verso.ParseRevision(b); err != nil {
			return 0, 0, bad
		}
	}
	return from, to, nil
}
