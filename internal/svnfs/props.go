package svnfs

import (
	"bytes"
	"encoding/xml"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// The XML namespaces of svn properties kept as verso dead properties.
const (
	nsDAV     = "DAV:"
	NSSVNProp = "http://subversion.tigris.org/xmlns/svn/"    // svn:* properties
	NSCustom  = "http://subversion.tigris.org/xmlns/custom/" // other properties
)

// Props returns e's dead properties as svn properties, by svn name:
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
func Props(e *verso.Entry) map[string]string {
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
		ns, local, ok := SplitClark(k)
		if !ok || ns == nsDAV {
			continue
		}
		v := PropText(e.Props[k])
		switch ns {
		case NSSVNProp:
			out["svn:"+local] = v
		case NSCustom:
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

// SplitClark splits "{ns}local".
func SplitClark(k string) (ns, local string, ok bool) {
	if !strings.HasPrefix(k, "{") {
		return "", k, k != ""
	}
	i := strings.IndexByte(k, '}')
	if i < 0 || i == len(k)-1 {
		return "", "", false
	}
	return k[1:i], k[i+1:], true
}

// PropText returns the text of a property's XML content.
func PropText(content string) string {
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

// XMLSafe reports whether s can travel as XML character data unchanged:
// valid UTF-8 without control characters other than tab, newline and
// carriage return (which XML would normalise away).
func XMLSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || r == '\r' || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

// XMLText returns s as XML character data, carriage returns as character
// references so that they survive.
func XMLText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
