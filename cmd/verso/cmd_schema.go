package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
	"github.com/verso-config/verso/internal/schema"
)

func newSchemaCommand(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Set, show or remove the JSON Schema of a namespace",
		Long: `A namespace may carry a JSON Schema (draft 2020-12, or 07 with its $schema)
that its content must validate against: every commit that would leave it
invalid is refused, listing why. The schema is the key NAMESPACE/.schema,
so setting, changing and removing it are revisions like any other (see
docs/schema.md).`,
		Args: commandArgs,
	}
	cmd.AddCommand(newSchemaSetCommand(getenv), newSchemaGetCommand(getenv), newSchemaRmCommand(getenv))
	return cmd
}

// readFileArg reads FILE, or stdin when it is absent or "-".
func readFileArg(cmd *cobra.Command, args []string, i int) ([]byte, string, error) {
	if len(args) <= i || args[i] == "-" {
		b, err := io.ReadAll(cmd.InOrStdin())
		return b, "-", err
	}
	b, err := os.ReadFile(args[i])
	return b, args[i], err
}

func newSchemaSetCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var opts client.WriteOptions
	cmd := &cobra.Command{
		Use:   "set NAMESPACE [FILE|-]",
		Short: "Set the schema of a namespace",
		Long: `Set makes the JSON Schema in FILE (stdin when absent or "-") the schema of
NAMESPACE, in one new revision. It is refused, changing nothing, if it is not
a valid schema, refers to anything outside itself, or if the namespace's
content does not validate against it: then each violation is printed, one a
line.`,
		Example: `  verso schema set /app/billing billing.schema.json -m "port and hosts are required"`,
		Args:    argsBetween(1, 2, "NAMESPACE [FILE|-]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			doc, _, err := readFileArg(cmd, args, 1)
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			rev, err := c.SetSchema(cmd.Context(), p, doc, &opts)
			if err != nil {
				return c.explain(err)
			}
			printCommitted(cmd, rev)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "commit `MESSAGE` (default: SCHEMA SET and the namespace)")
	flags.bind(cmd)
	return cmd
}

func newSchemaGetCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var rev string
	cmd := &cobra.Command{
		Use:   "get NAMESPACE",
		Short: "Print the schema of a namespace",
		Long:  `Get writes the schema of NAMESPACE to stdout, as of the newest revision or of revision N with -r N.`,
		Args:  argsBetween(1, 1, "NAMESPACE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			c, r, err := flags.connectAt(cmd, rev)
			if err != nil {
				return err
			}
			b, err := c.Schema(cmd.Context(), p, r)
			if err != nil {
				return c.explain(err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVarP(&rev, "revision", "r", "HEAD", "read as of revision `N`")
	flags.bind(cmd)
	return cmd
}

func newSchemaRmCommand(getenv func(string) string) *cobra.Command {
	return newPathWriteCommand(getenv, &cobra.Command{
		Use:   "rm NAMESPACE",
		Short: "Remove the schema of a namespace",
		Long: `Rm removes the schema of NAMESPACE in one new revision: its content is no
longer validated. 'verso revert' brings it back.`,
	}, "SCHEMA RM", func(c *clientConn, ctx context.Context, p verso.Path, o *client.WriteOptions) (verso.Revision, error) {
		return c.DeleteSchema(ctx, p, o)
	})
}

func newValidateCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	cmd := &cobra.Command{
		Use:   "validate NAMESPACE [FILE|-]",
		Short: "Check a namespace, or a local document, against the namespace's schemas",
		Long: `Validate checks the content of NAMESPACE against its schema, and every
namespace below it that has a schema against its own, as a commit does; or,
with FILE (stdin for "-"), the JSON or YAML document in FILE as 'verso
import' would write it there: each namespace of the document against the
schema the document gives it (its .schema member) or else the one it has.
It prints each violation, one a line, and fails if there is any. Nothing is
written.`,
		Example: `  verso validate /app/billing
  verso validate /app/billing billing.yaml`,
		Args: argsBetween(1, 2, "NAMESPACE [FILE|-]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			// The namespace as it is, schemas included: each
			// namespace's .schema is a member holding its text.
			var stored map[string]any
			e, err := c.Export(cmd.Context(), p, &client.ExportOptions{Format: "json"})
			switch {
			case errors.Is(err, verso.ErrNotFound) && len(args) == 2:
			case err != nil:
				return c.explain(err)
			default:
				if stored, err = decodeObject(e.Data, "json"); err != nil {
					return err
				}
			}
			doc := stored
			if len(args) == 2 {
				b, name, err := readFileArg(cmd, args, 1)
				if err != nil {
					return err
				}
				if doc, err = decodeObject(b, documentFormat(name, b)); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			var checked []verso.Path
			var failed []string
			err = validateTree(p, doc, stored, func(ns verso.Path, vs []schema.Violation) {
				checked = append(checked, ns)
				if len(vs) == 0 {
					return
				}
				sort.Slice(vs, func(i, j int) bool { return schema.Pointer(vs[i].Pointer) < schema.Pointer(vs[j].Pointer) })
				var b strings.Builder
				fmt.Fprintf(&b, "%s does not validate against its schema:", ns)
				for _, v := range vs {
					fmt.Fprintf(&b, "\n  %s: %s (%s)", ns.Join(strings.Join(v.Pointer, "/")), v.Message, v.Keyword)
				}
				failed = append(failed, b.String())
			})
			if err != nil {
				return err
			}
			if len(checked) == 0 {
				return fmt.Errorf("namespace %s has no schema, nor has any namespace below it", p)
			}
			if len(failed) > 0 {
				return errors.New(strings.Join(failed, "\n"))
			}
			for _, ns := range checked {
				fmt.Fprintf(cmd.OutOrStdout(), "%s validates against its schema.\n", ns)
			}
			return nil
		},
	}
	flags.bind(cmd)
	return cmd
}

// validateTree validates the namespace ns, whose content is doc (an
// export's or a local document's object), and every namespace below it,
// each against its schema: the .schema member of doc, or else that of
// stored (the namespace as it is, nil where it has no such namespace).
// report gets each namespace that has a schema, in path order, with its
// violations.
func validateTree(ns verso.Path, doc, stored map[string]any, report func(verso.Path, []schema.Violation)) error {
	sch, ok := doc[verso.SchemaKey].(string)
	if !ok {
		sch, ok = stored[verso.SchemaKey].(string)
	}
	if ok {
		s, err := schema.Compile([]byte(sch))
		if err != nil {
			return fmt.Errorf("the schema of %s: %w", ns, err)
		}
		report(ns, s.Validate(asNamespace(doc)))
	}
	names := make([]string, 0, len(doc))
	for name, v := range doc {
		if _, isNS := v.(map[string]any); isNS && name != verso.SchemaKey {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		below, _ := stored[name].(map[string]any)
		if err := validateTree(ns.Join(name), doc[name].(map[string]any), below, report); err != nil {
			return err
		}
	}
	return nil
}

// decodeObject reads a JSON or YAML document that must be an object, with
// numbers as written.
func decodeObject(b []byte, format string) (map[string]any, error) {
	var v any
	if format == "yaml" {
		var y any
		if err := yaml.Unmarshal(b, &y); err != nil {
			return nil, err
		}
		j, err := json.Marshal(y)
		if err != nil {
			return nil, err
		}
		b = j
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the document must be an object")
	}
	return obj, nil
}

// asNamespace turns an object of an export or a local document into the
// namespace document an import of it would make: objects stay objects
// (namespaces), a list stays a list (a key holding JSON), and every other
// value is read back the way a key's value is (docs/schema.md): its text as
// JSON where it parses, as a string otherwise. Schema keys are left out.
func asNamespace(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k == verso.SchemaKey {
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			out[k] = asNamespace(v)
		case []any:
			out[k] = v
		case string:
			out[k] = schema.Member([]byte(v))
		case nil:
			out[k] = ""
		default:
			out[k] = v // numbers and booleans: their text reads back as themselves
		}
	}
	return out
}

// printDryRun prints the answer of a dry run: the changes, one a line,
// then whether it validates. It fails when the commit would be refused.
func printDryRun(cmd *cobra.Command, d *client.DryRun) error {
	out := cmd.OutOrStdout()
	if d == nil || len(d.Changes) == 0 {
		fmt.Fprintln(out, "Nothing would change.")
		return nil
	}
	fmt.Fprintf(out, "Would change, against revision %d:\n", d.Head)
	for _, ch := range d.Changes {
		line := fmt.Sprintf("  %-9s %s", ch.Action, ch.Path)
		if ch.From != "" {
			line += " (from " + string(ch.From) + ")"
		}
		fmt.Fprintln(out, line)
	}
	if d.Valid {
		fmt.Fprintln(out, "It validates. Nothing was written.")
		return nil
	}
	var b strings.Builder
	b.WriteString("it would be refused: the namespace does not validate against its schema:")
	for _, v := range d.Violations {
		b.WriteString("\n  " + v.String())
	}
	return errors.New(b.String())
}
