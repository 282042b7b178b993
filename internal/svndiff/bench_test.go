package svndiff

import (
	"strings"
	"testing"
)

// BenchmarkSvndiff measures applying a client's delta: a 64 KiB text with
// one line changed, as svndiff0 of copies and new data.
func BenchmarkSvndiff(b *testing.B) {
	base := []byte(strings.Repeat("a line of a configuration file\n", 2048))
	// copy 32768 from the source at 0, new "new\n", copy the rest from 32772
	ins := appendVarint([]byte{0x00}, 32768)
	ins = append(ins, 0x00, 0x84)
	ins = appendVarint(append(ins, 0x00), uint64(len(base)-32772))
	ins = appendVarint(ins, 32772)
	d := []byte("SVN\x00")
	d = appendVarint(d, 0)
	d = appendVarint(d, uint64(len(base)))
	d = appendVarint(d, uint64(len(base)))
	d = appendVarint(d, uint64(len(ins)))
	d = appendVarint(d, 4)
	d = append(d, ins...)
	d = append(d, "new\n"...)
	b.SetBytes(int64(len(base)))
	for b.Loop() {
		if _, err := Apply(d, base, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}
