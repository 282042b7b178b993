package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newLsCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var rev string
	var long bool
	cmd := &cobra.Command{
		Use:   "ls [PATH]",
		Short: "List a namespace",
		Long: `Ls lists the namespace PATH (the root / by default), one name a line,
namespaces with a trailing /, as of the newest revision or of revision N with
-r N. With -l each line also shows the kind, the size of a key's value in
bytes, and the revision that last changed the entry (for a namespace,
anything below it); a key's revision is its ETag for 'verso put --if-match'.`,
		Example: `  verso ls /app
  verso ls -l /app/db -r 12`,
		Args: argsBetween(0, 1, "[PATH]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := optionalPathArg(cmd, args)
			if err != nil {
				return err
			}
			c, r, err := flags.connectAt(cmd, rev)
			if err != nil {
				return err
			}
			entries, err := c.List(cmd.Context(), p, r)
			if err != nil {
				return c.explain(err)
			}
			writeListing(cmd, entries, long)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&rev, "revision", "r", "HEAD", "list as of revision `N`")
	fs.BoolVarP(&long, "long", "l", false, "show kind, size and revision")
	flags.bind(cmd)
	return cmd
}

// writeListing prints entries one a line; long adds the columns kind, size
// (- for a namespace) and revision, with the numbers aligned right.
func writeListing(cmd *cobra.Command, entries []client.Entry, long bool) {
	w := cmd.OutOrStdout()
	sizes := make([]string, len(entries))
	sizeW, revW := 0, 0
	for i, e := range entries {
		sizes[i] = "-"
		if e.Kind == verso.KindKey {
			sizes[i] = strconv.Itoa(e.Size)
		}
		sizeW = max(sizeW, len(sizes[i]))
		revW = max(revW, len(strconv.FormatInt(int64(e.Revision), 10)))
	}
	for i, e := range entries {
		name := e.Name
		if e.Kind == verso.KindNamespace {
			name += "/"
		}
		if long {
			fmt.Fprintf(w, "%-9s  %*s  %*d  %s\n", e.Kind, sizeW, sizes[i], revW, e.Revision, name)
		} else {
			fmt.Fprintln(w, name)
		}
	}
}
