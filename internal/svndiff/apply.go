package svndiff

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// Apply applies the svndiff delta (version 0, 1 or 2) to source and
// returns the target, refusing to make one larger than max bytes. A body
// with no windows at all (not even a header) is the empty text, as the
// client sends for an empty new file.
func Apply(delta, source []byte, max int64) ([]byte, error) {
	if len(delta) == 0 {
		return []byte{}, nil
	}
	if len(delta) < 4 || delta[0] != 'S' || delta[1] != 'V' || delta[2] != 'N' {
		return nil, errors.New("not an svndiff stream")
	}
	version := delta[3]
	if version > 2 {
		return nil, fmt.Errorf("svndiff version %d is not supported", version)
	}
	d := &deltaReader{b: delta, off: 4}
	out := []byte{}
	for d.off < len(d.b) {
		start := d.off
		sOff, err1 := d.varint()
		sLen, err2 := d.varint()
		tLen, err3 := d.varint()
		iLen, err4 := d.varint()
		nLen, err5 := d.varint()
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return nil, fmt.Errorf("window at byte %d: %v", start, err)
		}
		if sOff > uint64(len(source)) || sLen > uint64(len(source))-sOff {
			return nil, fmt.Errorf("window at byte %d: source view %d+%d is outside the base text of %d bytes", start, sOff, sLen, len(source))
		}
		if tLen > uint64(max) || int64(len(out))+int64(tLen) > max {
			return nil, ErrTooLarge
		}
		ins, err := d.section(iLen, version, windowSize*4)
		if err != nil {
			return nil, fmt.Errorf("window at byte %d: instructions: %v", start, err)
		}
		data, err := d.section(nLen, version, max)
		if err != nil {
			return nil, fmt.Errorf("window at byte %d: new data: %v", start, err)
		}
		t, err := applyWindow(source[sOff:sOff+sLen], ins, data, int(tLen))
		if err != nil {
			return nil, fmt.Errorf("window at byte %d: %v", start, err)
		}
		out = append(out, t...)
	}
	return out, nil
}

// ErrTooLarge is what Apply returns for a target over its cap.
var ErrTooLarge = errors.New("the text is larger than the limit")

type deltaReader struct {
	b   []byte
	off int
}

func (d *deltaReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if d.off >= len(d.b) {
			return 0, io.ErrUnexpectedEOF
		}
		c := d.b[d.off]
		d.off++
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("integer too long")
}

// section reads n bytes of the stream, decompressing them for svndiff1
// (zlib) and svndiff2 (LZ4); the decompressed size is capped at max.
func (d *deltaReader) section(n uint64, version byte, max int64) ([]byte, error) {
	if n > uint64(len(d.b)-d.off) {
		return nil, io.ErrUnexpectedEOF
	}
	raw := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	if version == 0 {
		return raw, nil
	}
	sub := &deltaReader{b: raw}
	orig, err := sub.varint()
	if err != nil {
		return nil, err
	}
	if orig > uint64(max) {
		return nil, ErrTooLarge
	}
	rest := raw[sub.off:]
	if uint64(len(rest)) == orig {
		return rest, nil // stored as it was: compressing did not help
	}
	var out []byte
	if version == 1 {
		zr, err := zlib.NewReader(bytes.NewReader(rest))
		if err != nil {
			return nil, err
		}
		out, err = io.ReadAll(io.LimitReader(zr, int64(orig)+1))
		if err != nil {
			return nil, err
		}
	} else {
		out, err = lz4Block(rest, int(orig))
		if err != nil {
			return nil, err
		}
	}
	if uint64(len(out)) != orig {
		return nil, fmt.Errorf("decompressed to %d bytes, not %d", len(out), orig)
	}
	return out, nil
}

// lz4Block decodes an LZ4 block of at most size bytes.
func lz4Block(src []byte, size int) ([]byte, error) {
	out := make([]byte, 0, size)
	i := 0
	readLen := func(l int) (int, error) {
		if l != 15 {
			return l, nil
		}
		for {
			if i >= len(src) {
				return 0, io.ErrUnexpectedEOF
			}
			c := src[i]
			i++
			l += int(c)
			if l > size {
				return 0, errors.New("lz4: length beyond the block")
			}
			if c != 255 {
				return l, nil
			}
		}
	}
	for i < len(src) {
		tok := src[i]
		i++
		lit, err := readLen(int(tok >> 4))
		if err != nil {
			return nil, err
		}
		if lit > len(src)-i || len(out)+lit > size {
			return nil, errors.New("lz4: literals beyond the block")
		}
		out = append(out, src[i:i+lit]...)
		i += lit
		if i == len(src) {
			break
		}
		if i+2 > len(src) {
			return nil, io.ErrUnexpectedEOF
		}
		off := int(src[i]) | int(src[i+1])<<8
		i += 2
		ml, err := readLen(int(tok & 15))
		if err != nil {
			return nil, err
		}
		ml += 4
		if off == 0 || off > len(out) || len(out)+ml > size {
			return nil, errors.New("lz4: bad match")
		}
		for k := 0; k < ml; k++ {
			out = append(out, out[len(out)-off])
		}
	}
	return out, nil
}

// applyWindow runs one window's instructions.
func applyWindow(src, ins, data []byte, tLen int) ([]byte, error) {
	t := make([]byte, 0, tLen)
	d := &deltaReader{b: ins}
	dataOff := 0
	for d.off < len(ins) {
		c := ins[d.off]
		d.off++
		op := c >> 6
		n := uint64(c & 0x3f)
		var err error
		if n == 0 {
			if n, err = d.varint(); err != nil {
				return nil, err
			}
		}
		if n > uint64(tLen-len(t)) {
			return nil, errors.New("instruction writes past the window")
		}
		switch op {
		case 0, 1:
			off, err := d.varint()
			if err != nil {
				return nil, err
			}
			if op == 0 {
				if off > uint64(len(src)) || n > uint64(len(src))-off {
					return nil, errors.New("copy from outside the source view")
				}
				t = append(t, src[off:off+n]...)
			} else {
				if off >= uint64(len(t)) {
					return nil, errors.New("copy from outside the target")
				}
				for k := uint64(0); k < n; k++ {
					t = append(t, t[off+k])
				}
			}
		case 2:
			if n > uint64(len(data)-dataOff) {
				return nil, errors.New("new data runs out")
			}
			t = append(t, data[dataOff:dataOff+int(n)]...)
			dataOff += int(n)
		default:
			return nil, errors.New("invalid instruction")
		}
	}
	if len(t) != tLen {
		return nil, fmt.Errorf("window made %d bytes, not %d", len(t), tLen)
	}
	return t, nil
}
