package schema

import (
	"fmt"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A recursive schema is fine when each round of its recursion goes down
// into the document: a tree of objects is validated once per node. It is
// not when a round may apply the recursion twice to one value (anyOf of
// two branches that both recurse, properties and patternProperties that
// both match a name and recurse): the work then doubles with each level of
// nesting of the value, 2^depth. branching refuses those schemas: within
// each set of subschemas that reach each other (a strongly connected
// component of the graph of applicators), no subschema may have two
// applicators into the set that can apply to the same value.

// edge is an applicator of a subschema: the subschema it applies and
// where, relative to the value the subschema applies to.
type edge struct {
	to  *jsonschema.Schema
	pos string
}

// edges lists the applicators of s. pos is "self" for the value itself,
// "p:NAME" for the member NAME, "p*" for members a pattern may match, "pa"
// for the members no property or pattern names, "pu" for the unevaluated
// ones, "names" for the member names, "i:N" for the item at N, "i" for the
// items past prefixItems, "i*" for any item (contains), "iu" for the
// unevaluated items.
func edges(s *jsonschema.Schema) []edge {
	var out []edge
	add := func(to *jsonschema.Schema, pos string) {
		if to != nil {
			out = append(out, edge{to, pos})
		}
	}
	add(s.Ref, "self")
	add(s.RecursiveRef, "self")
	if s.DynamicRef != nil {
		add(s.DynamicRef.Ref, "self")
	}
	add(s.Not, "self")
	add(s.If, "self")
	add(s.Then, "self")
	add(s.Else, "self")
	for _, l := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for _, c := range l {
			add(c, "self")
		}
	}
	for _, c := range s.DependentSchemas {
		add(c, "self")
	}
	for _, d := range s.Dependencies {
		if c, ok := d.(*jsonschema.Schema); ok {
			add(c, "self")
		}
	}
	for name, c := range s.Properties {
		add(c, "p:"+name)
	}
	for _, c := range s.PatternProperties {
		add(c, "p*")
	}
	if c, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		add(c, "pa")
	}
	add(s.UnevaluatedProperties, "pu")
	add(s.PropertyNames, "names")
	for i, c := range s.PrefixItems {
		add(c, "i:"+strconv.Itoa(i))
	}
	switch items := s.Items.(type) {
	case *jsonschema.Schema:
		add(items, "i")
	case []*jsonschema.Schema:
		for i, c := range items {
			add(c, "i:"+strconv.Itoa(i))
		}
	}
	if c, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
		add(c, "i")
	}
	add(s.Items2020, "i")
	add(s.Contains, "i*")
	add(s.UnevaluatedItems, "iu")
	add(s.ContentSchema, "content")
	return out
}

// overlap reports whether two applicators of one subschema may apply to
// the same value.
func overlap(a, b string) bool {
	if a == "self" || b == "self" || a == b {
		return true
	}
	kind := func(p string) byte { return p[0] }
	if kind(a) != kind(b) {
		return false
	}
	switch {
	case a == "p*" || b == "p*":
		return a != "pa" && b != "pa" && a != "pu" && b != "pu"
	case a == "i*" || b == "i*":
		return true
	}
	return false
}

// branching returns an error if a recursion of s may apply twice to one
// value (see above).
func branching(root *jsonschema.Schema) error {
	// Tarjan's strongly connected components, iteratively bounded by the
	// size of the compiled graph.
	index := map[*jsonschema.Schema]int{}
	low := map[*jsonschema.Schema]int{}
	comp := map[*jsonschema.Schema]int{}
	onStack := map[*jsonschema.Schema]bool{}
	var stack []*jsonschema.Schema
	next, ncomp := 0, 0
	var visit func(s *jsonschema.Schema)
	visit = func(s *jsonschema.Schema) {
		index[s], low[s] = next, next
		next++
		stack = append(stack, s)
		onStack[s] = true
		for _, e := range edges(s) {
			if _, seen := index[e.to]; !seen {
				visit(e.to)
				low[s] = min(low[s], low[e.to])
			} else if onStack[e.to] {
				low[s] = min(low[s], index[e.to])
			}
		}
		if low[s] == index[s] {
			for {
				t := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[t] = false
				comp[t] = ncomp
				if t == s {
					break
				}
			}
			ncomp++
		}
	}
	visit(root)
	size := map[int]int{}
	for _, c := range comp {
		size[c]++
	}
	// Ways from the root to each set, in the graph of the sets (Tarjan
	// numbers a set after every set it reaches, so edges between sets go
	// from higher numbers to lower).
	members := make([][]*jsonschema.Schema, ncomp)
	for s, c := range comp {
		members[c] = append(members[c], s)
	}
	ways := make([]int, ncomp)
	ways[comp[root]] = 1
	total := 0
	for c := ncomp - 1; c >= 0; c-- {
		total = min(total+ways[c]*len(members[c]), MaxPaths+1)
		for _, s := range members[c] {
			for _, e := range edges(s) {
				if d := comp[e.to]; d != c {
					ways[d] = min(ways[d]+ways[c], MaxPaths+1)
				}
			}
		}
	}
	if total > MaxPaths {
		return fmt.Errorf("%w: more than %d ways through the schema's subschemas from its root (alternatives within alternatives multiply)", ErrInvalid, MaxPaths)
	}
	for s, c := range comp {
		var in []edge
		for _, e := range edges(s) {
			if comp[e.to] == c && (size[c] > 1 || e.to == s) {
				in = append(in, e)
			}
		}
		for i := range in {
			for j := i + 1; j < len(in); j++ {
				if overlap(in[i].pos, in[j].pos) {
					return fmt.Errorf("%w: the recursion at %s may apply twice to one value, which doubles the work with each level of nesting", ErrInvalid, location(s))
				}
			}
		}
	}
	return nil
}

// location names a subschema in messages.
func location(s *jsonschema.Schema) string {
	if i := len(base); len(s.Location) >= i && s.Location[:i] == base {
		return "schema" + s.Location[i:]
	}
	return s.Location
}
