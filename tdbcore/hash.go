package tdbcore

import (
	"encoding/binary"
	"math/bits"
)

// OldHash is libtdb's default ("old", gdbm-style) hash function, used by
// files created without the incompatible-hash flag.
func OldHash(key []byte) uint32 {
	value := uint32(0x238F13AF) * uint32(len(key))
	shift := uint(0) // i*5 % 24
	for _, b := range key {
		value += uint32(b) << shift
		if shift += 5; shift >= 24 {
			shift -= 24
		}
	}
	return 1103515243*value + 12345
}

// JenkinsHash is Bob Jenkins' lookup3 hashlittle() with initval 0. It is
// libtdb's incompatible hash and also CTDB's ctdb_hash().
func JenkinsHash(key []byte) uint32 { return hashLittle(key, 0) }

func hashLittle(k []byte, initval uint32) uint32 {
	n := len(k)
	a := 0xdeadbeef + uint32(n) + initval
	b, c := a, a
	for n > 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		// mix
		a -= c
		a ^= bits.RotateLeft32(c, 4)
		c += b
		b -= a
		b ^= bits.RotateLeft32(a, 6)
		a += c
		c -= b
		c ^= bits.RotateLeft32(b, 8)
		b += a
		a -= c
		a ^= bits.RotateLeft32(c, 16)
		c += b
		b -= a
		b ^= bits.RotateLeft32(a, 19)
		a += c
		c -= b
		c ^= bits.RotateLeft32(b, 4)
		b += a
		k = k[12:]
		n -= 12
	}
	if n == 0 {
		return c
	}
	// The last block: up to 12 bytes, read little-endian with zero fill.
	var tail [12]byte
	copy(tail[:], k)
	a += binary.LittleEndian.Uint32(tail[0:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	// final
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}
