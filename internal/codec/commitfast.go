package codec

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/verso-config/verso"
)

// decodeCommitFast decodes a commit record as EncodeCommit writes it
// (encoding/json's output for commitRecord: its fields in order, numbers
// without sign or exponent, strings without escapes) without
// encoding/json, which spends most of a log's time checking and
// reflecting. It declines (ok false) anything else, such as a string with
// an escape or a field out of place, and DecodeCommit then decodes with
// encoding/json: what it accepts, it decodes as encoding/json would
// (FuzzDecodeCommitFast).
func decodeCommitFast(b []byte) (c *verso.Commit, group string, ok bool) {
	d := fastDecoder{b: b, ok: true}
	d.lit(`{"rev":`)
	rev := d.num()
	author := d.optString(`,"author":`)
	d.lit(`,"sec":`)
	sec := d.num()
	nsec := d.optNum(`,"nsec":`)
	msg := d.optString(`,"msg":`)
	var changes []verso.Change
	if d.ok && bytes.HasPrefix(d.b, []byte(`,"changes":[`)) {
		d.b = d.b[len(`,"changes":[`):]
		for d.ok {
			var ch verso.Change
			d.lit(`{"path":`)
			ch.Path = verso.Path(d.str())
			d.lit(`,"kind":`)
			kind := d.num()
			if kind > 255 {
				return nil, "", false
			}
			ch.Kind = verso.Kind(uint8(kind))
			d.lit(`,"action":`)
			ch.Action = verso.Action(d.str())
			ch.From = verso.Path(d.optString(`,"from":`))
			ch.FromRev = verso.Revision(d.optNum(`,"fromRev":`))
			mods := d.optNum(`,"mods":`)
			if mods > 255 {
				return nil, "", false
			}
			ch.Mods = verso.Mods(uint8(mods))
			d.lit(`}`)
			changes = append(changes, ch)
			if d.ok && len(d.b) > 0 && d.b[0] == ',' {
				d.b = d.b[1:]
				continue
			}
			break
		}
		d.lit(`]`)
	}
	group = d.optString(`,"group":`)
	d.lit(`}`)
	if !d.ok || len(d.b) != 0 {
		return nil, "", false
	}
	c = &verso.Commit{Rev: verso.Revision(rev), Author: author, Time: time.Unix(sec, nsec).UTC(), Message: msg, Changes: changes}
	return c, group, true
}

// fastDecoder reads b from the front; ok turns false at the first thing
// it does not expect, and every later read is then a no-op.
type fastDecoder struct {
	b  []byte
	ok bool
}

func (d *fastDecoder) lit(s string) {
	if d.ok && bytes.HasPrefix(d.b, []byte(s)) {
		d.b = d.b[len(s):]
		return
	}
	d.ok = false
}

// num reads a non-negative integer of at most 18 digits, without leading
// zeros.
func (d *fastDecoder) num() int64 {
	if !d.ok {
		return 0
	}
	i := 0
	for i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9' {
		i++
	}
	if i == 0 || i > 18 || (i > 1 && d.b[0] == '0') {
		d.ok = false
		return 0
	}
	var n int64
	for _, c := range d.b[:i] {
		n = n*10 + int64(c-'0')
	}
	d.b = d.b[i:]
	return n
}

// str reads a string without escapes or control characters, in valid
// UTF-8.
func (d *fastDecoder) str() string {
	if !d.ok || len(d.b) == 0 || d.b[0] != '"' {
		d.ok = false
		return ""
	}
	for i := 1; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			s := d.b[1:i]
			if !utf8.Valid(s) {
				d.ok = false
				return ""
			}
			d.b = d.b[i+1:]
			return string(s)
		case c == '\\' || c < 0x20:
			d.ok = false
			return ""
		}
	}
	d.ok = false
	return ""
}

// optString reads the string field that key starts, if it is next.
func (d *fastDecoder) optString(key string) string {
	if d.ok && bytes.HasPrefix(d.b, []byte(key)) {
		d.b = d.b[len(key):]
		return d.str()
	}
	return ""
}

// optNum reads the number field that key starts, if it is next.
func (d *fastDecoder) optNum(key string) int64 {
	if d.ok && bytes.HasPrefix(d.b, []byte(key)) {
		d.b = d.b[len(key):]
		return d.num()
	}
	return 0
}

// appendCommitFast appends to b the record of c as encoding/json writes it
// (encodeCommitJSON), byte for byte, for the records the stores write
// on every commit: ok is false, and b is to be ignored, when a string
// holds a byte encoding/json would escape or check (a control character or
// DEL, '"', '\\', '<', '>', '&', or any byte of a non-ASCII character).
func appendCommitFast(b []byte, c *verso.Commit, group string) (_ []byte, ok bool) {
	ok = true
	str := func(s string) {
		for i := 0; i < len(s); i++ {
			if ch := s[i]; ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&' {
				ok = false
				return
			}
		}
		b = append(b, '"')
		b = append(b, s...)
		b = append(b, '"')
	}
	b = append(b, `{"rev":`...)
	b = strconv.AppendInt(b, int64(c.Rev), 10)
	if c.Author != "" {
		b = append(b, `,"author":`...)
		str(c.Author)
	}
	b = append(b, `,"sec":`...)
	b = strconv.AppendInt(b, c.Time.Unix(), 10)
	if ns := c.Time.Nanosecond(); ns != 0 {
		b = append(b, `,"nsec":`...)
		b = strconv.AppendInt(b, int64(ns), 10)
	}
	if c.Message != "" {
		b = append(b, `,"msg":`...)
		str(c.Message)
	}
	if len(c.Changes) > 0 {
		b = append(b, `,"changes":[`...)
		for i, ch := range c.Changes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"path":`...)
			str(string(ch.Path))
			b = append(b, `,"kind":`...)
			b = strconv.AppendUint(b, uint64(uint8(ch.Kind)), 10)
			b = append(b, `,"action":`...)
			str(string(ch.Action))
			if ch.From != "" {
				b = append(b, `,"from":`...)
				str(string(ch.From))
			}
			if ch.FromRev != 0 {
				b = append(b, `,"fromRev":`...)
				b = strconv.AppendInt(b, int64(ch.FromRev), 10)
			}
			if m := uint8(ch.Mods); m != 0 {
				b = append(b, `,"mods":`...)
				b = strconv.AppendUint(b, uint64(m), 10)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if group != "" {
		b = append(b, `,"group":`...)
		str(group)
	}
	return append(b, '}'), ok
}
