// Package dav holds the parts of WebDAV (RFC 4918) that need no server:
// reading the XML bodies of PROPFIND, PROPPATCH and LOCK, writing 207
// Multi-Status responses, parsing and evaluating the If header, and the
// in-memory manager of write locks. The server package's handlers use them
// to answer WebDAV requests; nothing here touches a store or the network.
package dav
