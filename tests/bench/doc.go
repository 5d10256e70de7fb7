// Package bench holds `make bench`'s side-by-side benchmark of our ctdbd against
// Debian's real CTDB 4.17, both as 3-node clusters in network namespaces
// (tests/cluster). It has no tests; see BenchmarkCluster.
package bench
