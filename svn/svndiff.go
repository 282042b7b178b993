package svn

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"

	"github.com/verso-config/verso/internal/svndiff"
)

// writeTxdelta writes data's svndiff, base64 encoded, in lines.
func writeTxdelta(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(svndiff.Full(data))
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
