package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso/client"
)

func newImportCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.ImportOptions
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import NAMESPACE FILE|-",
		Short: "Load a JSON or YAML document into a namespace, in one revision",
		Long: `Import writes the JSON or YAML document in FILE (stdin for "-") to the
namespace NAMESPACE, creating it if needed, in one new revision: objects
become namespaces, strings, numbers and booleans keys holding their text
(null an empty value), and lists keys holding the list as JSON text. Keys the
document does not name are kept, unless --sync is given: then they are
deleted, in the same revision, so the namespace holds exactly the document.
Keys whose value is already the document's are not rewritten; a document the
tree already holds makes no revision at all.

The format is taken from --format, else from FILE's extension (.json, .yaml,
.yml), else from the first character ('{' is JSON).`,
		Example: `  verso import /app app.yaml -m "load app settings"
  verso import /inventory hosts.yml --sync
  curl -s http://old:8080/config/app/?format=json | verso import /app -`,
		Args: argsBetween(2, 2, "NAMESPACE FILE|-"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			in := cmd.InOrStdin()
			if args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			doc, err := io.ReadAll(in)
			if err != nil {
				return err
			}
			switch {
			case opts.Format == "json" || opts.Format == "yaml":
			case opts.Format != "":
				return usageErrorf(cmd, "invalid --format %q: want json or yaml", opts.Format)
			default:
				opts.Format = documentFormat(args[1], doc)
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			if dryRun {
				d, err := c.ImportDryRun(cmd.Context(), p, doc, &opts)
				if err != nil {
					return c.explain(err)
				}
				return printDryRun(cmd, d)
			}
			res, err := c.Import(cmd.Context(), p, doc, &opts)
			if err != nil {
				return c.explain(err)
			}
			if !res.Changed {
				fmt.Fprintf(cmd.OutOrStdout(), "No changes: %s already holds the document (revision %d).\n", p, res.Revision)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Committed revision %d: %d added, %d modified, %d deleted.\n",
				res.Revision, res.Added, res.Modified, res.Deleted)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Message, "message", "m", "", "commit `MESSAGE` (default: IMPORT and the namespace)")
	fs.BoolVar(&dryRun, "dry-run", false, "show what the import would change and whether it validates; write nothing")
	fs.BoolVar(&opts.Sync, "sync", false, "also delete keys below NAMESPACE that the document does not name")
	fs.StringVarP(&opts.Format, "format", "f", "", "`FORMAT` of the document: json or yaml (default: from the file name or content)")
	flags.bind(cmd)
	return cmd
}

// documentFormat guesses whether a document is JSON or YAML.
func documentFormat(name string, doc []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	}
	if bytes.HasPrefix(bytes.TrimSpace(doc), []byte("{")) {
		return "json"
	}
	return "yaml"
}
