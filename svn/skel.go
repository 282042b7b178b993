package svn

import (
	"errors"
	"strconv"
)

// skel is one node of svn's "skel" notation, the body of a POST to
// !svn/me: an atom (list nil) or a list.
type skel struct {
	atom   string
	list   []*skel
	isList bool
}

// parseSkel reads one skel from b, which must hold nothing else but
// whitespace.
func parseSkel(b []byte) (*skel, error) {
	p := &skelParser{b: b}
	s, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errors.New("trailing data after the skel")
	}
	return s, nil
}

type skelParser struct {
	b []byte
	i int
}

func isSkelSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func (p *skelParser) space() {
	for p.i < len(p.b) && isSkelSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *skelParser) parse(depth int) (*skel, error) {
	if depth > 32 {
		return nil, errors.New("skel nested too deep")
	}
	p.space()
	if p.i >= len(p.b) {
		return nil, errors.New("unexpected end of skel")
	}
	c := p.b[p.i]
	switch {
	case c == '(':
		p.i++
		s := &skel{isList: true}
		for {
			p.space()
			if p.i >= len(p.b) {
				return nil, errors.New("unterminated skel list")
			}
			if p.b[p.i] == ')' {
				p.i++
				return s, nil
			}
			k, err := p.parse(depth + 1)
			if err != nil {
				return nil, err
			}
			s.list = append(s.list, k)
		}
	case '0' <= c && c <= '9':
		j := p.i
		for j < len(p.b) && '0' <= p.b[j] && p.b[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(string(p.b[p.i:j]))
		if err != nil || j >= len(p.b) || !isSkelSpace(p.b[j]) {
			return nil, errors.New("bad skel atom length")
		}
		j++
		if n < 0 || n > len(p.b)-j {
			return nil, errors.New("skel atom runs past the end")
		}
		p.i = j + n
		return &skel{atom: string(p.b[j : j+n])}, nil
	case ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
		j := p.i
		for j < len(p.b) && !isSkelSpace(p.b[j]) && p.b[j] != '(' && p.b[j] != ')' {
			j++
		}
		s := &skel{atom: string(p.b[p.i:j])}
		p.i = j
		return s, nil
	}
	return nil, errors.New("invalid character in skel")
}
