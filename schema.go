package verso

import (
	"errors"
	"fmt"
	"strings"
)

// SchemaKey is the name of the key that holds a namespace's JSON Schema:
// the schema of /app is the value of /app/.schema. It is an ordinary key
// (versioned, in the log and in diffs, revertable, exported, seen by WebDAV
// as a file) that every commit treats specially: its value must compile as
// a schema, and every namespace that has one must validate against it
// after the commit. It is not part of any namespace's document.
const SchemaKey = ".schema"

// IsSchema reports whether p is the schema key of its namespace.
func (p Path) IsSchema() bool { return p != Root && p.Base() == SchemaKey }

// SchemaOf returns the path of the schema key of namespace ns.
func SchemaOf(ns Path) Path { return ns.Join(SchemaKey) }

// Errors of namespace schemas.
var (
	// ErrSchema: after the commit, a namespace would not validate against
	// its schema. The error is a *SchemaError listing the violations.
	ErrSchema = errors.New("verso: the namespace does not validate against its schema")
	// ErrInvalidSchema: the value of a schema key does not compile as a
	// JSON Schema (or refers to a remote resource, or exceeds a limit).
	ErrInvalidSchema = errors.New("verso: invalid schema")
)

// A Violation is one way a namespace's document fails its schema.
type Violation struct {
	// Namespace is the namespace whose schema the document fails.
	Namespace Path `json:"namespace"`
	// Path is the key (or namespace) the failing value belongs to: the
	// namespace itself for a failure of the whole document, such as a
	// required member that is missing.
	Path Path `json:"path"`
	// Pointer is the JSON pointer of the failing value inside the
	// namespace's document ("" for the document itself).
	Pointer string `json:"pointer"`
	// Keyword is the schema keyword that failed ("minimum", "required").
	Keyword string `json:"keyword"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String renders the violation on one line.
func (v Violation) String() string {
	return fmt.Sprintf("%s: %s (%s at %s#%s)", v.Path, v.Message, v.Keyword, v.Namespace, v.Pointer)
}

// SchemaError is the error of a commit that would leave namespaces that do
// not validate against their schemas. It wraps ErrSchema.
type SchemaError struct {
	Violations []Violation
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	b.WriteString(ErrSchema.Error())
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

func (e *SchemaError) Unwrap() error { return ErrSchema }
