package svn

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/verso-config/verso"
)

// kind says which of the protocol's resources a URI names.
type kind int

const (
	kindNode  kind = iota + 1 // a node: the public URL (at head), !svn/rvr, !svn/bc, !svn/ver
	kindMe                    // !svn/me: where reports and (later) commits go
	kindRev                   // !svn/rev/N: a revision and its properties
	kindVCC                   // !svn/vcc/default: the version-controlled configuration
	kindBln                   // !svn/bln/N: a baseline (protocol v1 clients)
	kindWrite                 // transactions, activities, working resources: commits
)

// resource is what a request URI names.
type resource struct {
	uri  string // the URL path below the mount, for messages
	kind kind
	rev  verso.Revision // Head for the public URL and vcc
	path verso.Path     // for kindNode
	// public is set for the public URL of a node (no !svn part).
	public bool
	// stub ("txn", "txr", "act", ...) and txn (its name) of a kindWrite
	// resource; path is the path below a transaction root (txr).
	stub, txn string
}

// parseURI reads the URL path below the mount: a path of the tree, or one
// of svn's special URIs.
func parseURI(rel string) (resource, error) {
	res := resource{uri: rel}
	rest, special := strings.CutPrefix(rel, "/!svn")
	if !special {
		p, err := verso.ParsePath(rel)
		if err != nil {
			return res, badRequest("invalid path %q: %v", rel, err)
		}
		res.kind, res.rev, res.path, res.public = kindNode, verso.Head, p, true
		return res, nil
	}
	rest = strings.TrimPrefix(rest, "/")
	stub, rest, _ := strings.Cut(rest, "/")
	switch stub {
	case "me":
		res.kind = kindMe
		return res, nil
	case "vcc":
		res.kind, res.rev = kindVCC, verso.Head
		return res, nil
	case "rvr", "bc", "ver", "rev", "bln":
	case "txn", "txr", "vtxn", "vtxr":
		res.kind, res.stub = kindWrite, strings.TrimPrefix(stub, "v")
		name, p, _ := strings.Cut(rest, "/")
		if name == "" {
			return res, badRequest("no transaction name in %s", rel)
		}
		res.txn = name
		if res.stub == "txr" {
			var err error
			if res.path, err = verso.ParsePath("/" + p); err != nil {
				return res, badRequest("invalid path %q: %v", p, err)
			}
		}
		return res, nil
	case "act", "wrk", "wbl":
		res.kind, res.stub = kindWrite, stub
		return res, nil
	default:
		return res, &Error{Status: http.StatusNotFound, Code: errNotFound,
			Msg: fmt.Sprintf("unknown svn resource %q", "/!svn/"+stub)}
	}
	num, p, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return res, badRequest("invalid revision %q in %s", num, rel)
	}
	res.rev = verso.Revision(n)
	switch stub {
	case "rev":
		res.kind = kindRev
		return res, nil
	case "bln":
		res.kind = kindBln
		return res, nil
	}
	res.kind = kindNode
	if res.path, err = verso.ParsePath("/" + p); err != nil {
		return res, badRequest("invalid path %q: %v", p, err)
	}
	return res, nil
}

// repoPath turns a path or URL the client names in a report (src-path,
// dst-path) into a path of the tree: the part below the mount.
func (h *Handler) repoPath(s string) (verso.Path, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			rest = "/"
		} else {
			rest = rest[j:]
		}
		s = rest
	}
	u, err := unescape(s)
	if err != nil {
		return "", badRequest("invalid URL path %q", s)
	}
	rel, ok := strings.CutPrefix(u, h.o.Mount)
	if !ok || (rel != "" && rel[0] != '/') {
		return "", badRequest("%q is not below the repository root %s", s, h.o.Mount+"/")
	}
	if strings.HasPrefix(rel, "/!svn/") {
		res, err := parseURI(rel)
		if err != nil {
			return "", err
		}
		if res.kind != kindNode {
			return "", badRequest("%q does not name a path", s)
		}
		return res.path, nil
	}
	p, err := verso.ParsePath(rel)
	if err != nil {
		return "", badRequest("invalid path %q: %v", rel, err)
	}
	return p, nil
}

// unescape decodes percent-escapes of a URL path.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// joinRel joins a path relative to base ("" for base itself, "a/b").
func joinRel(base verso.Path, rel string) (verso.Path, error) {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return base, nil
	}
	p, err := verso.ParsePath(strings.TrimSuffix(string(base), "/") + "/" + rel)
	if err != nil {
		return "", badRequest("invalid path %q: %v", rel, err)
	}
	return p, nil
}
