package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/internal/wc"
)

func newStatusCommand(getenv func(string) string) *cobra.Command {
	return &cobra.Command{
		Use:     "status [FILE...]",
		Aliases: []string{"st"},
		Short:   "Show the local changes of a working copy",
		Long: `Status lists the files and folders of the working copy that differ from
what was checked out or last updated, one per line, as svn does:

  M  modified       A  added (committed on the next commit)
  D  deleted        C  conflicted (see 'verso resolve')
  ~  a file where a folder was, or the other way round

Paths are relative to the top of the working copy. It needs no server.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := mustOpenWC()
			if err != nil {
				return err
			}
			only, err := wcArgs(cmd, w, args)
			if err != nil {
				return err
			}
			cs, err := w.Status()
			if err != nil {
				return err
			}
			for _, c := range cs {
				if wcSelected(c.Rel, only) {
					fmt.Fprintln(cmd.OutOrStdout(), c)
				}
			}
			return nil
		},
	}
}

// wcDiff is 'verso diff' inside a working copy without -r: the local
// changes against their base.
func wcDiff(cmd *cobra.Command, w *wc.WC, args []string) error {
	only, err := wcArgs(cmd, w, args)
	if err != nil {
		return err
	}
	return w.Diff(cmd.OutOrStdout(), only...)
}

// wcRevert is 'verso revert FILE...' inside a working copy.
func wcRevert(cmd *cobra.Command, w *wc.WC, args []string) error {
	only, err := wcArgs(cmd, w, args)
	if err != nil {
		return err
	}
	return w.Revert(cmd.OutOrStdout(), only...)
}

func wcSelected(rel string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == "" || rel == o || len(rel) > len(o) && rel[:len(o)+1] == o+"/" {
			return true
		}
	}
	return false
}

func newResolveCommand(getenv func(string) string) *cobra.Command {
	return &cobra.Command{
		Use:   "resolve FILE...",
		Short: "Mark conflicted files of a working copy as resolved",
		Long: `Resolve tells verso that you have edited a conflicted FILE to what it should
be: it removes FILE.mine and FILE.rN, which update left beside it, and the
next commit sends FILE as it is now.`,
		Args: argsBetween(1, 1<<20, "FILE..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := mustOpenWC()
			if err != nil {
				return err
			}
			rels, err := wcArgs(cmd, w, args)
			if err != nil {
				return err
			}
			return w.Resolve(cmd.OutOrStdout(), rels...)
		},
	}
}
