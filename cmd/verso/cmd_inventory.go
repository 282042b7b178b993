package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/spf13/cobra"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/client"
)

func newInventoryCommand(getenv func(string) string) *cobra.Command {
	flags := &clientFlags{getenv: getenv}
	var list bool
	var host string
	cmd := &cobra.Command{
		Use:   "inventory NAMESPACE [--list | --host HOST]",
		Short: "Print an Ansible inventory kept in a namespace",
		Long: `Inventory prints the JSON that Ansible's inventory script protocol expects,
built from the namespace NAMESPACE, which holds an inventory laid out as
Ansible's own YAML inventory is (so 'verso import NAMESPACE hosts.yml' loads
one):

  NAMESPACE/GROUP/hosts/HOST/VAR      a host of GROUP and its variables
                                      (HOST may be an empty key: no variables)
  NAMESPACE/GROUP/vars/VAR            a variable of every host of GROUP
  NAMESPACE/GROUP/children/GROUP/...  a group inside GROUP, laid out the same

Values that are valid JSON (22, true, ["a","b"], {"k": "v"}) become numbers,
booleans, lists and objects; others are strings. --list (the default) prints
every group and, in _meta.hostvars, every host's variables, so Ansible never
needs --host; --host HOST prints the variables of one host.

To use it, make an executable script that runs it, and give the script to
Ansible with -i (see docs/ansible.md):

  #!/bin/sh
  exec verso inventory /inventory "$@"`,
		Example: `  verso inventory /inventory --list
  verso inventory /inventory --host web1
  ansible-inventory -i ./verso-inventory.sh --graph`,
		Args: argsBetween(1, 1, "NAMESPACE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parsePathArg(cmd, args[0])
			if err != nil {
				return err
			}
			if list && host != "" {
				return usageErrorf(cmd, "--list and --host exclude each other")
			}
			c, err := flags.connect(cmd)
			if err != nil {
				return err
			}
			e, err := c.Export(cmd.Context(), p, &client.ExportOptions{ParseJSON: true})
			if err != nil {
				return c.explain(err)
			}
			inv, err := buildInventory(p, e.Data)
			if err != nil {
				return err
			}
			var out any = inv.script()
			if host != "" {
				vars := inv.hostvars[host]
				if vars == nil {
					vars = map[string]any{}
				}
				out = vars
			}
			b, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&list, "list", false, "print every group and host (the default)")
	fs.StringVar(&host, "host", "", "print the variables of `HOST`")
	flags.bind(cmd)
	return cmd
}

// inventoryGroup is one group as the inventory script protocol writes it.
type inventoryGroup struct {
	Hosts    []string       `json:"hosts,omitempty"`
	Vars     map[string]any `json:"vars,omitempty"`
	Children []string       `json:"children,omitempty"`
}

// inventory is what a namespace of groups and hosts holds.
type inventory struct {
	groups   map[string]*inventoryGroup
	hostvars map[string]map[string]any
}

// buildInventory reads the export (JSON, values parsed) of the namespace ns.
func buildInventory(ns verso.Path, export []byte) (*inventory, error) {
	var tree map[string]any
	dec := json.NewDecoder(bytes.NewReader(export))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("read the export of %s: %w", ns, err)
	}
	dropSchemas(tree)
	inv := &inventory{groups: map[string]*inventoryGroup{}, hostvars: map[string]map[string]any{}}
	for name, v := range tree {
		if err := inv.group(ns.Join(name), name, v); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// group adds the group name, found at p, with what it holds (v).
func (inv *inventory) group(p verso.Path, name string, v any) error {
	g := inv.groups[name]
	if g == nil {
		g = &inventoryGroup{}
		inv.groups[name] = g
	}
	body, err := inventoryMap(p, v)
	if err != nil {
		return err
	}
	for part, x := range body {
		at := p.Join(part)
		items, err := inventoryMap(at, x)
		if err != nil {
			return err
		}
		switch part {
		case "hosts":
			for h, hv := range items {
				if !slices.Contains(g.Hosts, h) {
					g.Hosts = append(g.Hosts, h)
				}
				vars, err := inventoryMap(at.Join(h), hv)
				if err != nil {
					return err
				}
				if inv.hostvars[h] == nil {
					inv.hostvars[h] = map[string]any{}
				}
				for k, val := range vars {
					inv.hostvars[h][k] = val
				}
			}
			sort.Strings(g.Hosts)
		case "vars":
			if g.Vars == nil {
				g.Vars = map[string]any{}
			}
			for k, val := range items {
				g.Vars[k] = val
			}
		case "children":
			for child, cv := range items {
				if !slices.Contains(g.Children, child) {
					g.Children = append(g.Children, child)
				}
				if err := inv.group(at.Join(child), child, cv); err != nil {
					return err
				}
			}
			sort.Strings(g.Children)
		default:
			return fmt.Errorf("inventory: %s: a group holds only hosts, vars and children", at)
		}
	}
	return nil
}

// dropSchemas removes the namespaces' schemas (their .schema members) from
// an export: they are no part of the namespaces' content (docs/schema.md),
// so neither groups nor variables.
func dropSchemas(tree map[string]any) {
	delete(tree, verso.SchemaKey)
	for _, v := range tree {
		if m, ok := v.(map[string]any); ok {
			dropSchemas(m)
		}
	}
}

// inventoryMap returns v as a map: an object, or nothing for an empty value
// (a host or group without variables).
func inventoryMap(p verso.Path, v any) (map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return t, nil
	case nil:
		return nil, nil
	case string:
		if t == "" {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("inventory: %s holds a value where a namespace (or an empty key) belongs", p)
}

// script returns the answer to --list.
func (inv *inventory) script() map[string]any {
	out := map[string]any{}
	for name, g := range inv.groups {
		out[name] = g
	}
	hostvars := inv.hostvars
	out["_meta"] = map[string]any{"hostvars": hostvars}
	return out
}
