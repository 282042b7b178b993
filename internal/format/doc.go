// Package format holds the document formats a namespace is exported in and
// imported from: encoding a tree of keys as JSON, YAML, env lines or Java
// properties, and decoding a JSON or YAML document into the keys and
// namespaces it describes. It is pure: it reads and writes bytes, and the
// server package's handlers walk the store, check access and commit. (The
// stored form of entries is package codec's.)
package format
