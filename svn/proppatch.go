package svn

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"strings"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/internal/svnfs"
)

// propUpdate is one property of a PROPPATCH.
type propUpdate struct {
	name  xml.Name
	value string
}

// svnName returns the svn name of the property.
func (p propUpdate) svnName() string {
	if p.name.Space == nsSVNProp {
		return "svn:" + p.name.Local
	}
	return p.name.Local
}

// readPropertyUpdate reads a PROPPATCH body: the properties set (with
// their values, base64 ones decoded) and removed.
func (h *Handler) readPropertyUpdate(w http.ResponseWriter, r *http.Request) (set, remove []propUpdate, err error) {
	d := xml.NewDecoder(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	d.Strict = true
	var stack []xml.Name
	var cur *propUpdate
	var b64 bool
	var text strings.Builder
	sawRoot := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, bodyError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name)
			if len(stack) > 16 {
				return nil, nil, badRequest("elements nested too deep")
			}
			switch len(stack) {
			case 1:
				if t.Name.Space != nsDAV || t.Name.Local != "propertyupdate" {
					return nil, nil, badRequest("PROPPATCH body is <%s>, not DAV:propertyupdate", t.Name.Local)
				}
				sawRoot = true
			case 4:
				if stack[1].Space != nsDAV || (stack[1].Local != "set" && stack[1].Local != "remove") ||
					stack[2].Space != nsDAV || stack[2].Local != "prop" {
					return nil, nil, badRequest("PROPPATCH body: <%s> is not in DAV:set/DAV:prop or DAV:remove/DAV:prop", t.Name.Local)
				}
				cur = &propUpdate{name: t.Name}
				b64 = false
				for _, a := range t.Attr {
					if a.Name.Local == "encoding" && a.Value == "base64" {
						b64 = true
					}
				}
				text.Reset()
			}
		case xml.CharData:
			if len(stack) >= 4 {
				text.Write(t)
			}
		case xml.EndElement:
			if len(stack) == 4 && cur != nil {
				cur.value = text.String()
				if b64 {
					v, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cur.value), ""))
					if err != nil {
						return nil, nil, badRequest("property %s: invalid base64", cur.name.Local)
					}
					cur.value = string(v)
				}
				if cur.name.Local == "" || cur.name.Space == nsDAV {
					return nil, nil, badRequest("property %q cannot be set by svn", cur.name.Local)
				}
				if stack[1].Local == "set" {
					set = append(set, *cur)
				} else {
					remove = append(remove, *cur)
				}
				cur = nil
			}
			stack = stack[:len(stack)-1]
		}
	}
	if !sawRoot {
		return nil, nil, badRequest("empty PROPPATCH body")
	}
	return set, remove, nil
}

// proppatch answers PROPPATCH !svn/txr/NAME/PATH: svn properties of a
// file or directory, kept as verso's dead properties.
func (h *Handler) proppatch(w http.ResponseWriter, r *http.Request, res resource) error {
	p := res.path
	if err := h.mustWrite(r, p, false); err != nil {
		return err
	}
	set, remove, err := h.readPropertyUpdate(w, r)
	if err != nil {
		return err
	}
	for _, u := range set {
		if !svnfs.XMLSafe(strings.ReplaceAll(u.value, "\r", "")) {
			return badRequest("the value of property %s is not text: verso keeps properties as XML text", u.svnName())
		}
	}
	return h.withTxn(r, res.txn, func(t *txn) error {
		tokens, err := h.confirmLocks(r, t, verso.Op{Kind: verso.OpProps, Path: p}, false)
		if err != nil {
			return err
		}
		// The dead properties the path has now: a property svn shows by the
		// local name of another namespace (set by a WebDAV client) is changed
		// under that name.
		var have map[string]string
		if made, _, _, _ := t.inTxn(p); !made {
			if e, err := h.store.Get(r.Context(), p, verso.Head); err == nil {
				have = e.Props
			}
		}
		rec := &txnRec{Kind: recProps, Path: p, Tokens: tokens}
		var changes []verso.PropChange
		for _, u := range set {
			if u.name.Space == nsSVNProp && u.name.Local == "mime-type" {
				rec.Mime = &u.value
			}
			changes = append(changes, verso.PropChange{Name: h.deadName(u.name, have), Value: svnfs.XMLText(u.value)})
		}
		for _, u := range remove {
			for _, n := range h.deadNames(u.name, have) {
				changes = append(changes, verso.PropChange{Name: n, Remove: true})
			}
		}
		if len(changes) > 0 {
			if err := t.room(1); err != nil {
				return err
			}
			rec.Ops = []verso.Op{{Kind: verso.OpProps, Path: p, Props: changes}}
		}
		if len(rec.Ops) > 0 || len(rec.Tokens) > 0 {
			if err := h.record(r.Context(), t, rec); err != nil {
				return err
			}
		}
		writePropstatOK(w, h.o.Mount+"/!svn/txr/"+t.name+escapePath(string(p)))
		return nil
	})
}

// deadName returns the dead property an svn property is kept as: svn:NAME
// in svn's namespace; NAME as the property of another namespace that svn
// shows as NAME if there is one, else in svn's custom namespace.
func (h *Handler) deadName(n xml.Name, have map[string]string) string {
	if n.Space == nsSVNProp {
		return "{" + nsSVNProp + "}" + n.Local
	}
	custom := "{" + nsCustom + "}" + n.Local
	if _, ok := have[custom]; ok {
		return custom
	}
	for _, k := range svnfs.SortedKeys(have) {
		ns, local, ok := svnfs.SplitClark(k)
		if ok && local == n.Local && ns != nsDAV && ns != nsSVNProp {
			return k
		}
	}
	return custom
}

// deadNames returns every dead property svn shows as the property n, so
// that removing it removes them all.
func (h *Handler) deadNames(n xml.Name, have map[string]string) []string {
	if n.Space == nsSVNProp {
		return []string{"{" + nsSVNProp + "}" + n.Local}
	}
	out := []string{"{" + nsCustom + "}" + n.Local}
	for _, k := range svnfs.SortedKeys(have) {
		ns, local, ok := svnfs.SplitClark(k)
		if ok && local == n.Local && ns != nsDAV && ns != nsSVNProp && ns != nsCustom {
			out = append(out, k)
		}
	}
	return out
}
