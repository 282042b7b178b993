package svn

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"
)

// windowSize is the most target bytes one svndiff window holds: the
// client refuses larger windows (SVN_DELTA_WINDOW_SIZE).
const windowSize = 100 * 1024

// svndiffFull returns data as an svndiff0 delta that needs no source: a
// window for each 100 KiB, each one instruction that copies new data. It
// applies to any base, so verso never needs the client's base text. Empty
// data is the header alone.
func svndiffFull(data []byte) []byte {
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

// writeTxdelta writes data's svndiff, base64 encoded, in lines.
func writeTxdelta(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(svndiffFull(data))
	for len(enc) > 76 {
		io.WriteString(w, enc[:76])
		io.WriteString(w, "\n")
		enc = enc[76:]
	}
	io.WriteString(w, enc)
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha1hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}
