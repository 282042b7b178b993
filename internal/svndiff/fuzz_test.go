package svndiff

import "testing"

// FuzzSvndiff applies hostile deltas to a base text: no input may panic,
// and no target may pass the size cap.
func FuzzSvndiff(f *testing.F) {
	f.Add(Full([]byte("hello\n")), []byte("base"))
	f.Add([]byte("SVN\x00\x00\x04\x06\x02\x02\x00\x04\x82ab"), []byte("base text"))
	f.Add([]byte("SVN\x01\x00\x00\x05\x02\x06\x01\x85\x05hello"), []byte{})
	f.Add([]byte("SVN\x02\x00\x00\x05\x02\x07\x01\x85\x06\x05\x50hello"), []byte{})
	f.Add([]byte("SVN\x00\x00\x00\x08\x03\x01\x88\x00\x01a"), []byte{})
	f.Fuzz(func(t *testing.T, delta, base []byte) {
		out, err := Apply(delta, base, 4096)
		if err == nil && len(out) > 4096 {
			t.Fatalf("target of %d bytes past the cap", len(out))
		}
	})
}
