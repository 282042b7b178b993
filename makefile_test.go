package verso_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakefile_EveryFuzzTarget: `make fuzz` (and so CI) runs the targets
// its FUZZ_TARGETS names; a fuzz target written but left out of that list
// never runs. Every func FuzzX in a _test.go file must be listed as
// PKG:FuzzX.
func TestMakefile_EveryFuzzTarget(t *testing.T) {
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	fuzz := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		for _, m := range fuzz.FindAllSubmatch(src, -1) {
			entry := pkg + ":" + string(m[1])
			if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(entry) + `(\s|$)`).Match(mk) {
				t.Errorf("%s (%s) is not in the Makefile's FUZZ_TARGETS, so make fuzz never runs it", m[1], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
