package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
)

// logPageSize is the most commits verso log asks for in one request (the
// server's largest page).
var logPageSize = 1000

// logSeparator frames the entries of verso log, as in svn log.
var logSeparator = strings.Repeat("-", 72)

func newLogCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var rev string
	var limit int
	var verbose bool
	cmd := &cobra.Command{
		Use:   "log [PATH]",
		Short: "Show the history of a key or namespace",
		Long: `Log shows, newest first, the revisions that changed PATH or anything below
it (every revision when PATH is absent or /), like svn log: one line each with
the revision, its author ("(no author)" when anonymous), its time in UTC and
its message. -v adds the paths each revision changed: A added, M modified,
D deleted; a copy or move shows its source, "A /to (from /from:REV)".

-r REV starts at revision REV instead of the newest; -l N shows at most N
revisions.`,
		Example: `  verso log /app/db -l 5
  verso log -v -r 40`,
		Args: argsBetween(0, 1, "[PATH]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := optionalPathArg(cmd, args)
			if err != nil {
				return err
			}
			before, err := parseRevFlag(cmd, "r", rev)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageErrorf(cmd, "invalid -l %d: want a number of revisions from 1 up (0: all)", limit)
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			shown := 0
			for limit == 0 || shown < limit {
				n := logPageSize
				if limit > 0 {
					n = min(n, limit-shown)
				}
				page, err := c.Log(cmd.Context(), p, before, n)
				if err != nil {
					return c.explain(err)
				}
				if shown == 0 {
					fmt.Fprintln(w, logSeparator) // only once the server has answered
				}
				for _, cm := range page.Commits {
					writeLogEntry(w, cm, verbose)
				}
				shown += len(page.Commits)
				if page.Next == nil || len(page.Commits) == 0 || *page.Next < 1 {
					if hs := page.HistoryStart; hs != nil && *hs > 0 && (limit == 0 || shown < limit) {
						fmt.Fprintf(w, "(history before r%d was pruned by the server's retention policy)\n", *hs)
					}
					break
				}
				before = *page.Next
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&rev, "revision", "r", "HEAD", "start at revision `REV` (and go back from there)")
	fs.IntVarP(&limit, "limit", "l", 0, "show at most `N` revisions (0: all)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "list the paths each revision changed")
	flags.bind(cmd)
	return cmd
}

// writeLogEntry prints one revision and the separator after it.
func writeLogEntry(w io.Writer, cm *verso.Commit, verbose bool) {
	fmt.Fprintln(w, cm.String())
	if verbose {
		fmt.Fprintln(w, "Changed paths:")
		for _, ch := range cm.Changes {
			fmt.Fprintf(w, "   %s %s", actionLetter(ch.Action), ch.Path)
			if ch.From != "" {
				fmt.Fprintf(w, " (from %s:%d)", ch.From, ch.FromRev)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, logSeparator)
}

// actionLetter is svn's letter for what a revision did to a path.
func actionLetter(a verso.Action) string {
	switch a {
	case verso.Added, verso.Copied, verso.Moved:
		return "A"
	case verso.Modified:
		return "M"
	case verso.Deleted:
		return "D"
	}
	return "?"
}
