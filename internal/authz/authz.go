// Package authz reads path rules in Subversion's authz format and decides
// who may read and write each path of verso's tree, so an operator moving
// from mod_dav_svn keeps the file:
//
//	[groups]
//	ops = alice, bob
//	devs = carol, @ops
//
//	[/]
//	* = r
//	$authenticated = rw
//
//	[/secret]
//	* =
//	@ops = rw
//
// A section [/path] (or [repository:/path]) holds rules "who = access",
// where access is "", "r" or "rw" and who is a user name, @group, &alias,
// * (everyone), $anonymous, $authenticated, or any of these but * with ~
// before it (everyone the rest does not match). The rules of the most
// specific section that has a rule for the user decide, and within that
// section the user gets the union of every rule that matches. Rules inherit
// downward; a user no section matches may do nothing (as in Subversion, a
// file without [/] denies everything not granted below it).
//
// Glob sections ([:glob:...]) are not supported. Every mistake in a file is
// a *ParseError naming the file and line.
package authz

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/verso-config/verso"
)

// Access is a set of rights on a path.
type Access uint8

// The rights a rule can grant.
const (
	Read  Access = 1 << iota // read keys, list namespaces, see history
	Write                    // change what is at the path
)

func (a Access) String() string {
	switch a {
	case 0:
		return "none"
	case Read:
		return "read"
	case Write:
		return "write"
	case Read | Write:
		return "read and write"
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// ParseError is a mistake in an authz file.
type ParseError struct {
	File string // the file's name, as given to Parse
	Line int    // from 1
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Rules are the parsed rules of one authz file. They are immutable and
// safe for concurrent use.
type Rules struct {
	sections map[verso.Path]*section
	paths    []verso.Path        // every section's path, sorted
	groups   map[string][]string // group name: its users, resolved
}

// section holds the rules of one path: the ones of an unqualified [/path]
// section and those of a [repository:/path] section, which come first.
type section struct {
	qualified, plain []rule
}

// rule is one "who = access" line.
type rule struct {
	kind   whoKind
	name   string // user, group or alias target
	invert bool
	access Access
}

type whoKind uint8

const (
	whoUser whoKind = iota
	whoGroup
	whoAll
	whoAnonymous
	whoAuthenticated
)

// Allowed reports whether user ("" for an anonymous request) has every
// right in a on p.
func (r *Rules) Allowed(user string, p verso.Path, a Access) bool {
	return r.access(user, p)&a == a
}

// AllowedTree reports whether user has every right in a on p and on
// everything below it: no rule below p takes any of them away. COPY of a
// namespace needs it for reading, DELETE and MOVE for writing.
func (r *Rules) AllowedTree(user string, p verso.Path, a Access) bool {
	if !r.Allowed(user, p, a) {
		return false
	}
	for _, q := range r.paths {
		if q != p && p.Contains(q) && !r.Allowed(user, q, a) {
			return false
		}
	}
	return true
}

// access returns user's rights on p: those of the nearest section at or
// above p that has a rule matching user.
func (r *Rules) access(user string, p verso.Path) Access {
	for q := p; ; q = q.Parent() {
		if s, ok := r.sections[q]; ok {
			if a, ok := r.match(user, s.qualified); ok {
				return a
			}
			if a, ok := r.match(user, s.plain); ok {
				return a
			}
		}
		if q == verso.Root {
			return 0
		}
	}
}

// match returns the union of the rights of the rules that match user, and
// whether any does.
func (r *Rules) match(user string, rules []rule) (Access, bool) {
	var a Access
	found := false
	for _, ru := range rules {
		if r.matches(user, ru) {
			a |= ru.access
			found = true
		}
	}
	return a, found
}

func (r *Rules) matches(user string, ru rule) bool {
	var m bool
	switch ru.kind {
	case whoAll:
		m = true
	case whoAnonymous:
		m = user == ""
	case whoAuthenticated:
		m = user != ""
	case whoUser:
		m = user != "" && user == ru.name
	case whoGroup:
		m = user != "" && slices.Contains(r.groups[ru.name], user)
	}
	return m != ru.invert
}

// ParseFile reads the authz file at path.
func ParseFile(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// maxLine caps one line of an authz file.
const maxLine = 64 << 10

// option is one "key = value" line (with its continuation lines).
type option struct {
	key, value string
	line       int
}

// Parse reads rules in authz format from r; name is the file's name for
// error messages.
func Parse(name string, r io.Reader) (*Rules, error) {
	p := parser{name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	var cur *sectionText
	var last *option
	n := 0
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		text := strings.TrimSpace(raw)
		switch {
		case text == "":
			last = nil
			continue
		case text[0] == '#' || text[0] == ';':
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			// A line that starts with white space continues the value of
			// the option above it, as in every Subversion config file.
			if last == nil {
				return nil, p.errorf(n, "line starts with white space but continues no option")
			}
			last.value += " " + text
			continue
		case text[0] == '[':
			if !strings.HasSuffix(text, "]") {
				return nil, p.errorf(n, "section header %q has no closing ']'", text)
			}
			cur = &sectionText{name: strings.TrimSpace(text[1 : len(text)-1]), line: n}
			p.sections = append(p.sections, cur)
			last = nil
			continue
		}
		if cur == nil {
			return nil, p.errorf(n, "option %q comes before any [section]", text)
		}
		i := strings.IndexAny(text, "=:")
		if i < 0 {
			return nil, p.errorf(n, "want 'name = value', got %q", text)
		}
		key := strings.TrimSpace(text[:i])
		if key == "" {
			return nil, p.errorf(n, "an option needs a name before '%c'", text[i])
		}
		cur.options = append(cur.options, option{key: key, value: strings.TrimSpace(text[i+1:]), line: n})
		last = &cur.options[len(cur.options)-1]
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, p.errorf(n+1, "line longer than %d bytes", maxLine)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return p.build()
}

// sectionText is one [section] as written.
type sectionText struct {
	name    string
	line    int
	options []option
}

type parser struct {
	name     string
	sections []*sectionText
	repo     string // the repository named by qualified sections
	repoLine int
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &ParseError{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// build checks the sections and turns them into Rules.
func (p *parser) build() (*Rules, error) {
	groupDefs := map[string]option{}
	aliases := map[string]option{}
	for _, s := range p.sections {
		var into map[string]option
		switch s.name {
		case "groups":
			into = groupDefs
		case "aliases":
			into = aliases
		default:
			continue
		}
		for _, o := range s.options {
			if prev, ok := into[o.key]; ok {
				return nil, p.errorf(o.line, "%q is defined again (first at line %d)", o.key, prev.line)
			}
			into[o.key] = o
		}
	}
	for _, o := range aliases {
		if o.value == "" || strings.ContainsAny(o.value, ", \t") {
			return nil, p.errorf(o.line, "alias %q must name one user", o.key)
		}
	}
	groups, err := p.resolveGroups(groupDefs, aliases)
	if err != nil {
		return nil, err
	}
	rs := &Rules{sections: map[verso.Path]*section{}, groups: groups}
	seen := map[string]int{} // "path\x00who" (and qualified flag): line
	for _, st := range p.sections {
		if st.name == "groups" || st.name == "aliases" {
			continue
		}
		path, qualified, err := p.sectionPath(st)
		if err != nil {
			return nil, err
		}
		sec := rs.sections[path]
		if sec == nil {
			sec = &section{}
			rs.sections[path] = sec
			rs.paths = append(rs.paths, path)
		}
		for _, o := range st.options {
			ru, err := p.parseRule(o, groups, aliases)
			if err != nil {
				return nil, err
			}
			k := fmt.Sprintf("%t\x00%s\x00%s", qualified, path, o.key)
			if prev, ok := seen[k]; ok {
				return nil, p.errorf(o.line, "a rule for %q in [%s] is given again (first at line %d)", o.key, st.name, prev)
			}
			seen[k] = o.line
			if qualified {
				sec.qualified = append(sec.qualified, ru)
			} else {
				sec.plain = append(sec.plain, ru)
			}
		}
	}
	slices.Sort(rs.paths)
	return rs, nil
}

// sectionPath reads the path of a rules section: "/path" or
// "repository:/path".
func (p *parser) sectionPath(st *sectionText) (verso.Path, bool, error) {
	name := st.name
	if strings.HasPrefix(name, ":glob:") {
		return "", false, p.errorf(st.line, "glob sections ([%s]) are not supported; give each path its own section", name)
	}
	qualified := false
	if !strings.HasPrefix(name, "/") {
		repo, rest, ok := strings.Cut(name, ":")
		if !ok || repo == "" || !strings.HasPrefix(rest, "/") {
			return "", false, p.errorf(st.line, "section [%s] is neither [groups], [aliases], [/path] nor [repository:/path]", name)
		}
		if p.repo != "" && p.repo != repo {
			return "", false, p.errorf(st.line, "sections name two repositories, %q (line %d) and %q; verso serves one tree", p.repo, p.repoLine, repo)
		}
		p.repo, p.repoLine = repo, st.line
		name, qualified = rest, true
	}
	path, err := verso.ParsePath(name)
	if err != nil {
		why := err.Error()
		var pe *verso.PathError
		if errors.As(err, &pe) {
			why = strings.TrimPrefix(pe.Err.Error(), verso.ErrInvalidPath.Error()+": ")
		}
		return "", false, p.errorf(st.line, "section [%s]: invalid path: %s", st.name, why)
	}
	return path, qualified, nil
}

// parseRule reads one "who = access" line of a rules section.
func (p *parser) parseRule(o option, groups map[string][]string, aliases map[string]option) (rule, error) {
	var ru rule
	for _, c := range o.value {
		switch c {
		case 'r':
			ru.access |= Read
		case 'w':
			ru.access |= Write
		case ' ', '\t':
		default:
			return rule{}, p.errorf(o.line, "access %q for %q: want \"\", \"r\" or \"rw\"", o.value, o.key)
		}
	}
	who := o.key
	if rest, ok := strings.CutPrefix(who, "~"); ok {
		ru.invert = true
		who = rest
		if who == "*" || who == "" || strings.HasPrefix(who, "~") {
			return rule{}, p.errorf(o.line, "%q: '~' inverts a user, @group, &alias, $anonymous or $authenticated", o.key)
		}
	}
	switch {
	case who == "*":
		ru.kind = whoAll
	case who == "$anonymous":
		ru.kind = whoAnonymous
	case who == "$authenticated":
		ru.kind = whoAuthenticated
	case strings.HasPrefix(who, "$"):
		return rule{}, p.errorf(o.line, "unknown token %q: want $anonymous or $authenticated", who)
	case strings.HasPrefix(who, "@"):
		if _, ok := groups[who[1:]]; !ok {
			return rule{}, p.errorf(o.line, "group %q is not defined in [groups]", who[1:])
		}
		ru.kind, ru.name = whoGroup, who[1:]
	case strings.HasPrefix(who, "&"):
		a, ok := aliases[who[1:]]
		if !ok {
			return rule{}, p.errorf(o.line, "alias %q is not defined in [aliases]", who[1:])
		}
		ru.kind, ru.name = whoUser, a.value
	default:
		if strings.ContainsAny(who, " \t") {
			return rule{}, p.errorf(o.line, "%q: a user name has no spaces", who)
		}
		ru.kind, ru.name = whoUser, who
	}
	return ru, nil
}

// resolveGroups expands every group to the users in it, following @group
// and &alias members, and refuses cycles and undefined names.
func (p *parser) resolveGroups(defs map[string]option, aliases map[string]option) (map[string][]string, error) {
	out := map[string][]string{}
	const visiting = "\x00visiting"
	var resolve func(name string, from int) error
	resolve = func(name string, from int) error {
		if users, ok := out[name]; ok {
			if len(users) == 1 && users[0] == visiting {
				return p.errorf(from, "group %q contains itself", name)
			}
			return nil
		}
		def, ok := defs[name]
		if !ok {
			return p.errorf(from, "group %q is not defined in [groups]", name)
		}
		out[name] = []string{visiting}
		var users []string
		for _, m := range strings.Split(def.value, ",") {
			m = strings.TrimSpace(m)
			switch {
			case m == "":
			case strings.HasPrefix(m, "@"):
				if err := resolve(m[1:], def.line); err != nil {
					return err
				}
				users = append(users, out[m[1:]]...)
			case strings.HasPrefix(m, "&"):
				a, ok := aliases[m[1:]]
				if !ok {
					return p.errorf(def.line, "alias %q is not defined in [aliases]", m[1:])
				}
				users = append(users, a.value)
			case strings.HasPrefix(m, "$") || strings.HasPrefix(m, "~") || m == "*":
				return p.errorf(def.line, "group %q: member %q: a group holds users, @groups and &aliases", name, m)
			default:
				users = append(users, m)
			}
		}
		slices.Sort(users)
		out[name] = slices.Compact(users)
		return nil
	}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	slices.Sort(names) // errors name the same line every time
	for _, n := range names {
		if err := resolve(n, defs[n].line); err != nil {
			return nil, err
		}
	}
	return out, nil
}
