package plan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/verso-config/verso"
)

// cachedState is a mapState that lends Txn a SchemaCache.
type cachedState struct {
	*mapState
	cache SchemaCache
}

func (s *cachedState) SchemaCache() *SchemaCache { return &s.cache }

// applyPlan writes p into s as a store would.
func applyPlan(s *mapState, p *Plan) {
	for i, ch := range p.Commit.Changes {
		if e := p.Changed[i]; e != nil {
			s.tree[ch.Path] = e
		} else {
			delete(s.tree, ch.Path)
			s.deleted[ch.Path] = p.Rev
		}
	}
	for _, e := range p.TreeRevs {
		s.tree[e.Path] = e
	}
}

// TestSchema_CacheAgrees runs random transactions on a namespace with a
// schema against two states, one planning with a cache of namespace
// documents and one without, and checks that they accept and refuse the
// same ones. Some plans of the cached state are thrown away without
// Durable (another server's commit got in first) and a different
// transaction takes their revision.
func TestSchema_CacheAgrees(t *testing.T) {
	for name, sch := range map[string]string{
		// Schemas that split into names and members (internal/schema).
		"additional": `{"additionalProperties": {"type": ["integer", "object"], "maximum": 50,
			"additionalProperties": {"type": "integer", "minimum": 0}}}`,
		"names": `{"type": "object", "required": ["k1"], "maxProperties": 4, "propertyNames": {"maxLength": 3},
			"dependentRequired": {"k2": ["k3"]}, "properties": {"k0": {"maximum": 30}, "sub": {"type": "object"}},
			"patternProperties": {"^k[1-4]$": {"minimum": 0}}, "additionalProperties": false}`,
		"allOf and $ref": `{"$defs": {"base": {"required": ["k1"], "additionalProperties": {"maximum": 40}}},
			"allOf": [{"$ref": "#/$defs/base"}, {"maxProperties": 4}], "properties": {"k0": {"minimum": 0}}}`,
		// Formulas of schemas that split (internal/schema), whose
		// documents keep a schema.State.
		"anyOf": `{"anyOf": [{"required": ["k1"]}, {"required": ["k2"]}], "additionalProperties": {"maximum": 50}}`,
		"oneOf": `{"oneOf": [{"properties": {"k1": {"maximum": 20}}}, {"properties": {"k1": {"minimum": 10}}}],
			"properties": {"sub": {"type": "object"}}}`,
		"if and not": `{"if": {"required": ["k2"]}, "then": {"properties": {"k2": {"maximum": 30}}, "additionalProperties": {"minimum": 0}},
			"else": {"maxProperties": 4}, "not": {"properties": {"k3": {"const": 7}}, "required": ["k3"]}}`,
		"dependentSchemas": `{"dependentSchemas": {"k2": {"properties": {"k1": {"minimum": 10}}}, "k3": {"required": ["k4"]}}}`,
		// One that is neither: the whole document is validated.
		"whole": `{"anyOf": [{"required": ["k1"]}, {"required": ["k2"]}], "unevaluatedProperties": {"maximum": 50}}`,
	} {
		t.Run(name, func(t *testing.T) { cacheAgrees(t, sch) })
	}
}

func cacheAgrees(t *testing.T, sch string) {
	rng := rand.New(rand.NewPCG(1, 2))
	plain := newState()
	cached := &cachedState{mapState: newState()}
	head := verso.Revision(3)
	setup := &verso.Txn{Ops: []verso.Op{
		{Kind: verso.OpDelete, Path: "/app"},
		{Kind: verso.OpMkcol, Path: "/app"},
		{Kind: verso.OpMkcol, Path: "/app/sub"},
		{Kind: verso.OpPut, Path: "/app/k1", Value: []byte("1")},
		{Kind: verso.OpPut, Path: "/app/.schema", Value: []byte(sch)},
	}}
	randomTxn := func() *verso.Txn {
		txn := &verso.Txn{}
		for range 1 + rng.IntN(3) {
			dir := []verso.Path{"/app", "/app/sub"}[rng.IntN(2)]
			p := dir.Join(fmt.Sprintf("k%d", rng.IntN(5)))
			if rng.IntN(8) == 0 {
				// The schemas come and go: /app's, and one of /app/sub's own.
				p = dir.Join(verso.SchemaKey)
				sch := []byte(sch)
				if dir == "/app/sub" {
					sch = []byte(`{"additionalProperties": {"minimum": 0}}`)
				}
				if rng.IntN(2) == 0 {
					txn.Ops = append(txn.Ops, verso.Op{Kind: verso.OpPut, Path: p, Value: sch})
					continue
				}
			}
			if rng.IntN(4) == 0 {
				txn.Ops = append(txn.Ops, verso.Op{Kind: verso.OpDelete, Path: p})
			} else {
				txn.Ops = append(txn.Ops, verso.Op{Kind: verso.OpPut, Path: p, Value: fmt.Appendf(nil, "%d\n", rng.IntN(60)-5)})
			}
		}
		return txn
	}
	var refused, accepted int
	var group []*Plan // planned in this group, durable at its end
	for i := 0; i < 1500; i++ {
		txn := randomTxn()
		if i == 0 {
			txn = setup
		}
		if i == 0 || rng.IntN(3) == 0 {
			// A new group. Sometimes the last one was never committed
			// (another server got in first): its plans' documents must
			// not be used.
			for _, p := range group {
				p.Durable()
			}
			group = nil
			if rng.IntN(4) == 0 {
				if _, err := Txn(cached, head, randomTxn(), t0); err == nil {
					cached.cache.NewGroup()
				}
			}
			cached.cache.NewGroup()
		}
		p1, err1 := Txn(plain, head, txn, t0)
		p2, err2 := Txn(cached, head, txn, t0)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("txn %d %+v: without cache %v, with cache %v", i, txn.Ops, err1, err2)
		}
		if err1 != nil {
			var se *verso.SchemaError
			if errors.As(err1, &se) {
				refused++
			}
			continue
		}
		accepted++
		applyPlan(plain, p1)
		applyPlan(cached.mapState, p2)
		group = append(group, p2)
		head = p1.Rev
	}
	if refused < 30 || accepted < 30 {
		t.Errorf("refused %d, accepted %d: the test does not exercise both", refused, accepted)
	}
}
