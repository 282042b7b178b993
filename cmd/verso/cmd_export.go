package main

import (
	"github.com/spf13/cobra"

	"github.com/verso-config/verso/client"
)

func newExportCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var rev string
	var opts client.ExportOptions
	cmd := &cobra.Command{
		Use:   "export NAMESPACE",
		Short: "Print a namespace, recursively, as JSON, YAML, env or properties",
		Long: `Export writes the namespace NAMESPACE and everything below it to stdout as one
document, as of the newest revision or of revision N with -r N:

  json        nested objects, values as strings (the default)
  yaml        the same as YAML
  env         NAME='value' lines for sh's "." and systemd's EnvironmentFile:
              db/host becomes DB_HOST
  properties  Java properties: db/host becomes db.host, escaped as Java does

--parse-json reads values as typed data in json and yaml, as namespace
schemas read them (docs/schema.md): JSON where it parses ('5432',
'["a","b"]', '{"ip": "10.0.0.1"}' come out as numbers, lists and objects),
a string otherwise, one trailing newline ignored.
A value that is not UTF-8 text is refused, naming its key.`,
		Example: `  verso export /app
  verso export /app --format env > app.env
  verso export /inventory --format yaml --parse-json -r 42`,
		Args: argsBetween(1, 1, "NAMESPACE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			if opts.Rev, err = parseRevFlag(cmd, "r", rev); err != nil {
				return err
			}
			switch opts.Format {
			case "json", "yaml", "env", "properties":
			default:
				return usageErrorf(cmd, "invalid --format %q: want json, yaml, env or properties", opts.Format)
			}
			if opts.ParseJSON && opts.Format != "json" && opts.Format != "yaml" {
				return usageErrorf(cmd, "--parse-json applies to --format json and yaml")
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			e, err := c.Export(cmd.Context(), p, &opts)
			if err != nil {
				return c.explain(err)
			}
			_, err = cmd.OutOrStdout().Write(e.Data)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Format, "format", "f", "json", "`FORMAT` of the document: json, yaml, env or properties")
	fs.StringVarP(&rev, "revision", "r", "HEAD", "export as of revision `N`")
	fs.BoolVar(&opts.ParseJSON, "parse-json", false, "read values as typed data, as schemas do (json, yaml)")
	flags.bind(cmd)
	return cmd
}
