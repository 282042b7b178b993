// Package svndiff is Subversion's binary delta format, svndiff
// (Subversion's notes/svndiff): Apply applies a delta of version 0, 1
// (zlib) or 2 (LZ4) to a base text, with a cap on the size of the result,
// and Full encodes a text as a version 0 delta that needs no base. The
// svn protocol (package svn) carries deltas in commits and updates, and
// svnadmin dump streams (package svndump) carry them as node texts.
package svndiff

// windowSize is the most target bytes one svndiff window holds: the
// client refuses larger windows (SVN_DELTA_WINDOW_SIZE).
const windowSize = 100 * 1024

// Full returns data as an svndiff0 delta that needs no source: a
// window for each 100 KiB, each one instruction that copies new data. It
// applies to any base, so verso never needs the client's base text. Empty
// data is the header alone.
func Full(data []byte) []byte {
	out := []byte{'S', 'V', 'N', 0}
	for len(data) > 0 {
		n := min(len(data), windowSize)
		chunk := data[:n]
		data = data[n:]
		var ins []byte
		if n < 64 {
			ins = []byte{0x80 | byte(n)}
		} else {
			ins = appendVarint([]byte{0x80}, uint64(n))
		}
		out = appendVarint(out, 0) // source view offset
		out = appendVarint(out, 0) // source view length
		out = appendVarint(out, uint64(n))
		out = appendVarint(out, uint64(len(ins)))
		out = appendVarint(out, uint64(n))
		out = append(out, ins...)
		out = append(out, chunk...)
	}
	return out
}

// appendVarint appends v in svndiff's integer encoding: seven bits a
// byte, most significant first, the high bit set on all bytes but the last.
func appendVarint(b []byte, v uint64) []byte {
	var tmp [10]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7f)
	for v >>= 7; v > 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7f) | 0x80
	}
	return append(b, tmp[i:]...)
}
