package main

import (
	"context"
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
		Long: `Log shows the revisions that changed PATH or anything below it (every
revision when PATH is absent or /), newest first, like svn log: one line each
with the revision, its author ("(no author)" when anonymous), its time in UTC
and its message. -v adds the paths each revision changed: A added, M
modified, D deleted; a copy or move shows its source, "A /to (from
/from:REV)".

-r takes svn's forms: -r N shows revision N alone (nothing when it did not
change PATH), -r A:B the revisions from A to B in that order, newest first
when A is the larger and oldest first when B is; either may be HEAD. -l N
shows at most N revisions, the first N in that order.`,
		Example: `  verso log /app/db -l 5
  verso log -v -r 40
  verso log /app/db -r 30:HEAD`,
		Args: argsBetween(0, 1, "[PATH]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := optionalPathArg(cmd, args)
			if err != nil {
				return err
			}
			from, to, err := parseLogRange(cmd, rev)
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
			if rev != "" && (from == verso.Head || to == verso.Head) {
				// The direction of a range with HEAD depends on the head.
				page, err := c.Log(cmd.Context(), verso.Root, verso.Head, 1)
				if err != nil {
					return c.explain(err)
				}
				from, to = orHead(from, page.Head), orHead(to, page.Head)
			}
			w := cmd.OutOrStdout()
			started := false
			start := func() { // once the server has answered
				if !started {
					fmt.Fprintln(w, logSeparator)
					started = true
				}
			}
			if from == verso.Head || from >= to { // newest first: print each page as it comes
				err := c.logRange(cmd.Context(), p, from, to, limit, func(cm *verso.Commit) {
					start()
					writeLogEntry(w, cm, verbose)
				}, func(hs verso.Revision) {
					start()
					fmt.Fprintf(w, "(history before r%d was pruned by the server's retention policy)\n", hs)
				})
				if err == nil {
					start()
				}
				return err
			}
			// Oldest first: gather the range newest first, then turn it.
			var commits []*verso.Commit
			var pruned verso.Revision
			if err := c.logRange(cmd.Context(), p, to, from, 0, func(cm *verso.Commit) {
				commits = append(commits, cm)
			}, func(hs verso.Revision) { pruned = hs }); err != nil {
				return err
			}
			fmt.Fprintln(w, logSeparator)
			if pruned > 0 {
				fmt.Fprintf(w, "(history before r%d was pruned by the server's retention policy)\n", pruned)
			}
			for i := len(commits) - 1; i >= 0 && (limit == 0 || len(commits)-1-i < limit); i-- {
				writeLogEntry(w, commits[i], verbose)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&rev, "revision", "r", "", "show revision `N` alone, or the range A:B in that order (default HEAD:0, everything)")
	fs.IntVarP(&limit, "limit", "l", 0, "show at most `N` revisions (0: all)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "list the paths each revision changed")
	flags.bind(cmd)
	return cmd
}

// parseLogRange reads -r of verso log as svn log does: "" for everything
// (HEAD:0), N for N alone, A:B for a range either way; A and B may be HEAD.
func parseLogRange(cmd *cobra.Command, s string) (from, to verso.Revision, err error) {
	if s == "" {
		return verso.Head, 0, nil
	}
	bad := usageErrorf(cmd, "invalid -r %q: want N or A:B, revision numbers or HEAD", s)
	a, b, found := strings.Cut(s, ":")
	if from, err = verso.ParseRevision(a); err != nil {
		return 0, 0, bad
	}
	if !found {
		return from, from, nil
	}
	if to, err = verso.ParseRevision(b); err != nil {
		return 0, 0, bad
	}
	return from, to, nil
}

// orHead returns rev, or head when rev is verso.Head.
func orHead(rev, head verso.Revision) verso.Revision {
	if rev == verso.Head {
		return head
	}
	return rev
}

// logRange calls each with the commits that changed p from revision hi
// down to lo, newest first, following the server's pages, until limit of
// them (0: all). When the walk reaches the start of the server's retained
// history above lo, it calls pruned with that start.
func (c *clientConn) logRange(ctx context.Context, p verso.Path, hi, lo verso.Revision, limit int,
	each func(*verso.Commit), pruned func(verso.Revision)) error {
	if hi == 0 {
		return nil // revision 0 is the empty tree, with no commit (and the server reads before=0 as no bound)
	}
	shown := 0
	before := hi
	for limit == 0 || shown < limit {
		n := logPageSize
		if limit > 0 {
			n = min(n, limit-shown)
		}
		page, err := c.Log(ctx, p, before, n)
		if err != nil {
			return c.explain(err)
		}
		for _, cm := range page.Commits {
			if cm.Rev < lo {
				return nil
			}
			each(cm)
			shown++
		}
		if page.Next == nil || len(page.Commits) == 0 || *page.Next < 1 || *page.Next < lo {
			if hs := page.HistoryStart; hs != nil && *hs > 0 && *hs > lo && (limit == 0 || shown < limit) {
				pruned(*hs)
			}
			return nil
		}
		before = *page.Next
	}
	return nil
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
