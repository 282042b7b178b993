package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/client"
)

func newPutCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.WriteOptions
	var create bool
	cmd := &cobra.Command{
		Use:   "put PATH [FILE|-]",
		Short: "Write the value of a key",
		Long: `Put writes the contents of FILE, or stdin when FILE is absent or "-", to the
key at PATH, creating the key or replacing its value, in one new revision. The
namespace holding the key must exist (see verso mkdir).

--create writes only if the key does not exist yet; --if-match only if the
key is still at the given ETag, its last-changed revision as 'verso ls -l'
shows it: a compare-and-set that fails, changing nothing, if someone else
wrote the key in between.`,
		Example: `  verso put /app/db/host host.txt -m "move the database"
  echo db2.internal | verso put /app/db/host
  verso put /app/db/port --create <<<5432
  verso put /app/db/host --if-match 7 host.txt`,
		Args: argsBetween(1, 2, "PATH [FILE|-]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			if create && opts.IfMatch != "" {
				return usageErrorf(cmd, "--create and --if-match exclude each other")
			}
			if create {
				opts.IfNoneMatch = "*"
			}
			opts.IfMatch = quoteETag(opts.IfMatch)
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			in := cmd.InOrStdin()
			if len(args) == 2 && args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			value, err := io.ReadAll(in)
			if err != nil {
				return err
			}
			rev, _, err := c.Put(cmd.Context(), p, value, &opts)
			if err != nil && c.parentMissing(cmd.Context(), p, err) {
				return fmt.Errorf("namespace %s does not exist; create it first: verso mkdir --parents %s", p.Parent(), p.Parent())
			}
			if err != nil {
				return c.explain(err)
			}
			printCommitted(cmd, rev)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Message, "message", "m", "", "commit `MESSAGE` (default: PUT and the path)")
	fs.StringVar(&opts.IfMatch, "if-match", "", "write only if the key's ETag is still `ETAG` (a revision: 7 or \"7\")")
	fs.BoolVar(&create, "create", false, "write only if the key does not exist yet")
	flags.bind(cmd)
	return cmd
}

// quoteETag puts a bare ETag (7) in the quotes HTTP wants ("7"); "*", weak
// and quoted tags pass as they are.
func quoteETag(s string) string {
	if s == "" || s == "*" || strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "W/") {
		return s
	}
	return `"` + s + `"`
}
