package dav

import (
	"errors"
	"fmt"
	"strings"

	"github.com/verso-config/verso"
)

// The If request header of WebDAV (RFC 4918 section 10.4):
//
//	If = ( 1*No-tag-list | 1*Tagged-list )
//	No-tag-list = List
//	Tagged-list = Resource-Tag 1*List
//	List = "(" 1*Condition ")"
//	Condition = ["Not"] ( State-token | "[" entity-tag "]" )
//	State-token = Coded-URL = "<" absolute-URI ">"
//	Resource-Tag = "<" Simple-ref ">"
//
// with optional white space between the parts.

// noLockToken is the state token no lock ever has; (Not <DAV:no-lock>) is
// the customary way to write a condition that always holds.
const noLockToken = "DAV:no-lock"

// ErrIfSyntax marks an If header that does not parse (400 Bad Request).
var ErrIfSyntax = errors.New("invalid If header")

// IfCondition is one condition of a list: a state token (a lock token, or
// DAV:no-lock) or an entity tag, kept as sent ("\"x\"" or "W/\"x\"").
// Exactly one of Token and ETag is set.
type IfCondition struct {
	Not   bool
	Token string
	ETag  string
}

// IfList is a parenthesised list of conditions, all of which must hold.
// Tag is the resource the list is about, as written between < and > before
// it; "" means the request URI.
type IfList struct {
	Tag        string
	Conditions []IfCondition
}

// IfHeader is a parsed If header: it holds if any of its lists holds.
type IfHeader struct {
	Lists []IfList
}

// ParseIfHeader parses the value of an If header. Any syntax error,
// including a mix of tagged and untagged lists, is an error wrapping
// ErrIfSyntax.
func ParseIfHeader(s string) (IfHeader, error) {
	p := ifParser{s: s}
	var h IfHeader
	tag := ""
	tagged := false
	pendingTag := false // a resource tag that has no list yet
	for {
		p.space()
		if p.eof() {
			break
		}
		switch p.s[p.i] {
		case '<':
			if len(h.Lists) > 0 && !tagged {
				return IfHeader{}, p.fail("resource tag after an untagged list")
			}
			if pendingTag {
				return IfHeader{}, p.fail("resource tag without a list")
			}
			u, err := p.angle()
			if err != nil {
				return IfHeader{}, err
			}
			tag, tagged, pendingTag = u, true, true
		case '(':
			l, err := p.list()
			if err != nil {
				return IfHeader{}, err
			}
			l.Tag = tag
			h.Lists = append(h.Lists, l)
			pendingTag = false
		default:
			return IfHeader{}, p.fail("unexpected %q", p.s[p.i])
		}
	}
	if pendingTag {
		return IfHeader{}, p.fail("resource tag without a list")
	}
	if len(h.Lists) == 0 {
		return IfHeader{}, fmt.Errorf("%w: no list", ErrIfSyntax)
	}
	return h, nil
}

type ifParser struct {
	s string
	i int
}

func (p *ifParser) eof() bool { return p.i >= len(p.s) }

func (p *ifParser) space() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\r' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *ifParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrIfSyntax, fmt.Sprintf(format, args...), p.i)
}

// angle reads "<" URI ">" and returns the URI, which must be non-empty and
// hold no white space or angle brackets.
func (p *ifParser) angle() (string, error) {
	p.i++ // '<'
	end := strings.IndexByte(p.s[p.i:], '>')
	if end < 0 {
		return "", p.fail("unterminated <")
	}
	u := p.s[p.i : p.i+end]
	if u == "" || strings.ContainsAny(u, " \t\r\n<") {
		return "", p.fail("invalid URI %q", u)
	}
	p.i += end + 1
	return u, nil
}

// list reads "(" 1*Condition ")".
func (p *ifParser) list() (IfList, error) {
	p.i++ // '('
	var l IfList
	for {
		p.space()
		if p.eof() {
			return IfList{}, p.fail("unterminated list")
		}
		if p.s[p.i] == ')' {
			p.i++
			if len(l.Conditions) == 0 {
				return IfList{}, p.fail("empty list")
			}
			return l, nil
		}
		var c IfCondition
		if len(p.s)-p.i >= 3 && strings.EqualFold(p.s[p.i:p.i+3], "not") {
			c.Not = true
			p.i += 3
			p.space()
			if p.eof() {
				return IfList{}, p.fail("unterminated list")
			}
		}
		switch p.s[p.i] {
		case '<':
			tok, err := p.angle()
			if err != nil {
				return IfList{}, err
			}
			c.Token = tok
		case '[':
			etag, err := p.etag()
			if err != nil {
				return IfList{}, err
			}
			c.ETag = etag
		default:
			return IfList{}, p.fail("unexpected %q in list", p.s[p.i])
		}
		l.Conditions = append(l.Conditions, c)
	}
}

// etag reads "[" entity-tag "]" and returns the entity tag as written.
func (p *ifParser) etag() (string, error) {
	p.i++ // '['
	p.space()
	start := p.i
	if strings.HasPrefix(p.s[p.i:], "W/") {
		p.i += 2
	}
	if p.eof() || p.s[p.i] != '"' {
		return "", p.fail("entity tag without quotes")
	}
	end := strings.IndexByte(p.s[p.i+1:], '"')
	if end < 0 {
		return "", p.fail("unterminated entity tag")
	}
	p.i += end + 2
	etag := p.s[start:p.i]
	p.space()
	if p.eof() || p.s[p.i] != ']' {
		return "", p.fail("entity tag not closed by ]")
	}
	p.i++
	return etag, nil
}

// Tokens returns every state token the header names, in order and without
// repeats, leaving out DAV:no-lock. Naming a lock token anywhere in the
// header, even under Not, submits it (RFC 4918 section 10.4.1).
func (h IfHeader) Tokens() []string {
	var toks []string
	seen := make(map[string]bool)
	for _, l := range h.Lists {
		for _, c := range l.Conditions {
			if c.Token != "" && c.Token != noLockToken && !seen[c.Token] {
				seen[c.Token] = true
				toks = append(toks, c.Token)
			}
		}
	}
	return toks
}

// AlwaysHolds reports whether the header holds whatever the state: it has
// an untagged list of nothing but "Not <DAV:no-lock>", the list a client
// adds to submit lock tokens without making its request depend on them
// (RFC 4918 section 10.4.8).
func (h IfHeader) AlwaysHolds() bool {
	for _, l := range h.Lists {
		if l.Tag != "" || len(l.Conditions) == 0 {
			continue
		}
		always := true
		for _, c := range l.Conditions {
			always = always && c.Not && c.Token == noLockToken
		}
		if always {
			return true
		}
	}
	return false
}

// Eval reports whether the header holds: whether at least one list has all
// its conditions true. A list is about its tag's resource, found through
// resolve (a tag that does not resolve, such as another host or a path
// outside the tree, makes its lists false), or about requestPath when
// untagged. state reports a resource's current entity tag, the tokens of
// the locks whose scope includes it, and whether it exists.
//
// A state token condition holds when the token is one of those lock tokens
// (DAV:no-lock never is); an entity tag condition when the resource exists
// and its entity tag equals the one given by strong comparison. Not
// negates.
func (h IfHeader) Eval(requestPath verso.Path, resolve func(tag string) (verso.Path, bool), state func(p verso.Path) (etag string, tokens []string, exists bool)) bool {
	type resourceState struct {
		etag   string
		tokens []string
		exists bool
	}
	states := make(map[verso.Path]resourceState)
	for _, l := range h.Lists {
		p := requestPath
		if l.Tag != "" {
			if resolve == nil {
				continue
			}
			q, ok := resolve(l.Tag)
			if !ok {
				continue
			}
			p = q
		}
		st, ok := states[p]
		if !ok {
			st.etag, st.tokens, st.exists = state(p)
			states[p] = st
		}
		holds := true
		for _, c := range l.Conditions {
			var match bool
			if c.Token != "" {
				if c.Token != noLockToken {
					for _, t := range st.tokens {
						match = match || t == c.Token
					}
				}
			} else {
				match = st.exists && strongETagMatch(c.ETag, st.etag)
			}
			if match == c.Not {
				holds = false
				break
			}
		}
		if holds {
			return true
		}
	}
	return false
}

// strongETagMatch compares two entity tags strongly (RFC 9110 section
// 8.8.3.2): both must be strong and identical.
func strongETagMatch(a, b string) bool {
	return a != "" && a == b && !strings.HasPrefix(a, "W/")
}
