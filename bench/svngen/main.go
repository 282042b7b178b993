// Command svngen builds the content of bench/svn.sh twice, the same
// history for both servers: a verso bolt store, committed offline through
// the bolt store's own Commit, and a Subversion dump stream for
// `svnadmin load`, which Apache's mod_dav_svn then serves. It is not part
// of verso.
//
//	svngen -db FILE -dump FILE [-namespaces N] [-keys K] [-revisions R]
//	       [-blame B] [-seed S]
//
// The history:
//
//   - revisions 1 to N each create one namespace nNNN with K keys kNNN
//     (values of 100 B to 4 KiB of text lines);
//   - every later revision, up to R, changes one key: n000/k000 (the
//     blame key, a text of 60 lines of which each version rewrites one)
//     until it has B versions, spread evenly over the history, and a
//     random other key otherwise, with a new random value.
//
// Revision r is dated 2026-01-01 00:00:00 UTC plus r seconds, and its
// author and message are the same on both sides. It prints one line of
// key=value results on stdout.
package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/verso-config/verso"
	"github.com/verso-config/verso/bolt"
)

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "svngen:", err)
		os.Exit(1)
	}
}

func run() error {
	db := flag.String("db", "", "bolt file to create")
	dumpPath := flag.String("dump", "", "Subversion dump file to write")
	nss := flag.Int("namespaces", 100, "namespaces")
	perNS := flag.Int("keys", 100, "keys per namespace")
	revisions := flag.Int("revisions", 10_000, "revisions in all")
	blame := flag.Int("blame", 500, "versions of the blame key n000/k000")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *db == "" || *dumpPath == "" {
		return fmt.Errorf("-db and -dump are required")
	}
	history := *revisions - *nss
	if history < *blame-1 || *blame < 1 {
		return fmt.Errorf("%d revisions leave %d for history, fewer than %d versions of the blame key", *revisions, history, *blame)
	}
	start := time.Now()

	var now atomic.Int64
	st, err := bolt.Open(*db, &bolt.Options{MaxBatch: 1, Clock: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
	if err != nil {
		return err
	}
	f, err := os.Create(*dumpPath)
	if err != nil {
		return err
	}
	d := &dump{w: bufio.NewWriterSize(f, 1<<20)}
	d.header()
	d.revision(0, "", "")

	rng := rand.New(rand.NewPCG(*seed, 42))
	ctx := context.Background()
	commit := func(rev int, author, msg string, ops []verso.Op) error {
		now.Store(base.Add(time.Duration(rev) * time.Second).UnixNano())
		c, err := st.Commit(ctx, &verso.Txn{Author: author, Message: msg, Ops: ops})
		if err != nil {
			return err
		}
		if int(c.Rev) != rev {
			return fmt.Errorf("commit made revision %d, not %d", c.Rev, rev)
		}
		d.revision(rev, author, msg)
		for _, op := range ops {
			switch op.Kind {
			case verso.OpMkcol:
				d.dir(string(op.Path))
			case verso.OpPut:
				d.file(string(op.Path), op.Value, rev > *nss)
			}
		}
		return nil
	}

	keyPath := func(n, k int) string { return fmt.Sprintf("/n%03d/k%03d", n, k) }
	blameLines := make([]string, 60)
	for i := range blameLines {
		blameLines[i] = fmt.Sprintf("line %02d of the blame key, version 1 %s", i, words(rng, 3))
	}
	blameText := func() []byte { return []byte(strings.Join(blameLines, "\n") + "\n") }

	for n := range *nss {
		ops := []verso.Op{{Kind: verso.OpMkcol, Path: verso.Path(fmt.Sprintf("/n%03d", n))}}
		for k := range *perNS {
			v := text(rng)
			if n == 0 && k == 0 {
				v = blameText()
			}
			ops = append(ops, verso.Op{Kind: verso.OpPut, Path: verso.Path(keyPath(n, k)), Value: v})
		}
		if err := commit(n+1, author(n), fmt.Sprintf("create namespace n%03d", n), ops); err != nil {
			return err
		}
	}
	every := 0
	if *blame > 1 {
		every = history / (*blame - 1)
	}
	versions := 1
	for j := range history {
		rev := *nss + 1 + j
		var p string
		var v []byte
		if every > 0 && j%every == 0 && versions < *blame {
			versions++
			line := (versions * 7) % len(blameLines)
			blameLines[line] = fmt.Sprintf("line %02d of the blame key, version %d %s", line, versions, words(rng, 3))
			p, v = keyPath(0, 0), blameText()
		} else {
			n, k := rng.IntN(*nss), rng.IntN(*perNS)
			if n == 0 && k == 0 {
				k = 1 % *perNS
			}
			p, v = keyPath(n, k), text(rng)
		}
		if err := commit(rev, author(j), "change "+p, []verso.Op{{Kind: verso.OpPut, Path: verso.Path(p), Value: v}}); err != nil {
			return err
		}
	}
	if err := d.w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Printf("namespaces=%d keys=%d revisions=%d blame_versions=%d seconds=%.1f\n",
		*nss, *nss**perNS, *revisions, versions, time.Since(start).Seconds())
	return nil
}

func author(i int) string { return []string{"alice", "bob", "carol"}[i%3] }

var vocabulary = strings.Fields(`alpha beta gamma delta host port timeout retries
	enabled disabled primary replica region zone weight limit cache ttl pool
	size queue worker level debug info warn error path url user group mode`)

func words(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = vocabulary[rng.IntN(len(vocabulary))]
	}
	return strings.Join(w, " ")
}

// text is a value of 100 B to 4 KiB: lines of "name = words".
func text(rng *rand.Rand) []byte {
	size := 100 + rng.IntN(4096-100+1)
	var b strings.Builder
	for b.Len() < size {
		fmt.Fprintf(&b, "%s = %s\n", vocabulary[rng.IntN(len(vocabulary))], words(rng, 1+rng.IntN(8)))
	}
	s := b.String()[:size]
	return []byte(s[:size-1] + "\n")
}

// dump writes a Subversion dump stream (format 2, full texts).
type dump struct{ w *bufio.Writer }

func (d *dump) header() { d.w.WriteString("SVN-fs-dump-format-version: 2\n\n") }

func prop(b *strings.Builder, k, v string) {
	fmt.Fprintf(b, "K %d\n%s\nV %d\n%s\n", len(k), k, len(v), v)
}

func (d *dump) revision(rev int, author, msg string) {
	var p strings.Builder
	if author != "" {
		prop(&p, "svn:author", author)
	}
	if msg != "" {
		prop(&p, "svn:log", msg)
	}
	prop(&p, "svn:date", base.Add(time.Duration(rev)*time.Second).Format("2006-01-02T15:04:05.000000Z"))
	p.WriteString("PROPS-END\n")
	fmt.Fprintf(d.w, "Revision-number: %d\nProp-content-length: %d\nContent-length: %d\n\n%s\n",
		rev, p.Len(), p.Len(), p.String())
}

func (d *dump) dir(path string) {
	fmt.Fprintf(d.w, "Node-path: %s\nNode-kind: dir\nNode-action: add\nProp-content-length: 10\nContent-length: 10\n\nPROPS-END\n\n\n",
		strings.TrimPrefix(path, "/"))
}

func (d *dump) file(path string, text []byte, change bool) {
	sum := md5.Sum(text)
	if change {
		fmt.Fprintf(d.w, "Node-path: %s\nNode-kind: file\nNode-action: change\nText-content-length: %d\nText-content-md5: %s\nContent-length: %d\n\n",
			strings.TrimPrefix(path, "/"), len(text), hex.EncodeToString(sum[:]), len(text))
		d.w.Write(text)
		d.w.WriteString("\n\n")
		return
	}
	fmt.Fprintf(d.w, "Node-path: %s\nNode-kind: file\nNode-action: add\nProp-content-length: 10\nText-content-length: %d\nText-content-md5: %s\nContent-length: %d\n\nPROPS-END\n",
		strings.TrimPrefix(path, "/"), len(text), hex.EncodeToString(sum[:]), len(text)+10)
	d.w.Write(text)
	d.w.WriteString("\n\n")
}
