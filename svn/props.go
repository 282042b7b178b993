package svn

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/verso-config/verso"
)

// svnProps returns e's dead properties as svn properties, by svn name:
//
//   - {http://subversion.tigris.org/xmlns/svn/}NAME is svn:NAME
//   - {http://subversion.tigris.org/xmlns/custom/}NAME is NAME
//   - a property of any other namespace, {NS}NAME, is NAME too, as
//     mod_dav_svn showed properties that WebDAV clients set; when two
//     namespaces share a NAME, the custom namespace wins, then the first
//     namespace in byte order.
//
// The value is the property's text: its XML content with character
// references decoded, or the XML content as it is when it holds elements.
func svnProps(e *verso.Entry) map[string]string {
	if len(e.Props) == 0 {
		return nil
	}
	keys := make([]string, 0, len(e.Props))
	for k := range e.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(keys))
	custom := map[string]bool{}
	for _, k := range keys {
		ns, local, ok := splitClark(k)
		if !ok || ns == nsDAV {
			continue
		}
		v := propText(e.Props[k])
		switch ns {
		case nsSVNProp:
			out["svn:"+local] = v
		case nsCustom:
			out[local] = v
			custom[local] = true
		default:
			if _, taken := out[local]; !taken && !custom[local] {
				out[local] = v
			}
		}
	}
	return out
}

// splitClark splits "{ns}local".
func splitClark(k string) (ns, local string, ok bool) {
	if !strings.HasPrefix(k, "{") {
		return "", k, k != ""
	}
	i := strings.IndexByte(k, '}')
	if i < 0 || i == len(k)-1 {
		return "", "", false
	}
	return k[1:i], k[i+1:], true
}

// propText returns the text of a property's XML content.
func propText(content string) string {
	if !strings.ContainsAny(content, "<&") {
		return content
	}
	d := xml.NewDecoder(strings.NewReader("<v>" + content + "</v>"))
	var b strings.Builder
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > 1 {
				return content // markup: keep it as it is
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			b.Write(t)
		}
	}
	return b.String()
}

// wireName returns the element (namespace and local name) that carries
// svn property name in PROPFIND answers.
func wireName(name string) (ns, local string) {
	if rest, ok := strings.CutPrefix(name, "svn:"); ok {
		return nsSVNProp, rest
	}
	return nsCustom, name
}

// node is an entry with what svn says of it: its committed revision (the
// last revision that changed it or, for a directory, anything below it),
// that commit's date and author.
type node struct {
	*verso.Entry
	rev    verso.Revision // the revision it was read at
	cr     verso.Revision
	date   time.Time // zero when unknown (revision 0)
	author string
}

// svnTime formats t as svn dates travel: UTC, microseconds.
func svnTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

// commits caches the commit records one request looks up.
type commits struct {
	store verso.Store
	m     map[verso.Revision]*verso.Commit
}

func newCommits(s verso.Store) *commits {
	return &commits{store: s, m: map[verso.Revision]*verso.Commit{}}
}

// get returns the record of rev, nil for revision 0 or a pruned one.
func (c *commits) get(ctx context.Context, rev verso.Revision) (*verso.Commit, error) {
	if rev <= 0 {
		return nil, nil
	}
	if cm, ok := c.m[rev]; ok {
		return cm, nil
	}
	cm, err := c.store.Revision(ctx, rev)
	if errors.Is(err, verso.ErrGone) {
		cm, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.m[rev] = cm
	return cm, nil
}

// nodeOf completes e, read at rev, with its committed revision's date
// and author.
func (c *commits) nodeOf(ctx context.Context, e *verso.Entry, rev verso.Revision) (*node, error) {
	n := &node{Entry: e, rev: rev, cr: e.TreeRev}
	if e.Kind == verso.KindKey || e.TreeRev == e.ModRev {
		n.cr, n.date, n.author = e.ModRev, e.ModTime, e.ModBy
		if n.cr == 0 {
			n.date = time.Time{}
		}
		return n, nil
	}
	cm, err := c.get(ctx, e.TreeRev)
	if err != nil {
		return nil, err
	}
	if cm != nil {
		n.date, n.author = cm.Time, cm.Author
	}
	return n, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
