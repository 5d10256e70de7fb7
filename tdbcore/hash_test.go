package tdbcore

import "testing"

func TestJenkinsVectors(t *testing.T) {
	cases := []struct {
		in   string
		init uint32
		want uint32
	}{
		{"", 0, 0xdeadbeef},
		{"", 0xdeadbeef, 0xbd5b7dde},
		{"Four score and seven years ago", 0, 0x17770551},
		{"Four score and seven years ago", 1, 0xcd628161},
		// CTDB database ids: jenkins(name + NUL).
		{"locking.tdb\x00", 0, 0x7a19d84d},
		{"brlock.tdb\x00", 0, 0x4e66c2b2},
		{"g_lock.tdb\x00", 0, 0x4d2a432b},
		{"secrets.tdb\x00", 0, 0x7132c184},
	}
	for _, c := range cases {
		if got := hashLittle([]byte(c.in), c.init); got != c.want {
			t.Errorf("hashlittle(%q, %#x) = %#x, want %#x", c.in, c.init, got, c.want)
		}
	}
}

func TestMagicHashes(t *testing.T) {
	// Values read from files created by libtdb 1.4.8 (little-endian).
	m1, m2 := magicHashes(OldHash)
	if m1 != 0xF67D9F0D || m2 != 0x3AFEF920 {
		t.Errorf("old hash magics = %#x %#x", m1, m2)
	}
	m1, m2 = magicHashes(JenkinsHash)
	if m1 != 0xD7B694E5 || m2 != 0x76B9440E {
		t.Errorf("jenkins magics = %#x %#x", m1, m2)
	}
	// "hello" as stored by libtdb in a default-hash file.
	if h := OldHash([]byte("hello")); h != 0xe7255f4a {
		t.Errorf("OldHash(hello) = %#x", h)
	}
}
