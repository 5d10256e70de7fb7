// Package tdbcore reads and writes TDB files in the on-disk format of
// Samba's libtdb 1.4, and takes the same byte-range locks, so that a Go
// process and C processes (smbd, tdbtool, python3-tdb, CTDB) can share one
// file safely. It also holds CTDB's 24-byte ltdb record header.
//
// # Compatibility
//
// Files are byte-for-byte what libtdb 1.4.8 writes for the same sequence
// of operations (stores, deletes, transactions, repack), with either hash
// function: libtdb's default ("old") hash, or the Jenkins lookup3 hash
// selected by IncompatibleHash, which also sets the header marker that
// stops old libtdb versions from opening the file. The interop tests check
// this against Debian's python3-tdb, tdbtool and tdbdump.
//
// Not supported: big-endian (byte-swapped) files and files created with
// TDB_MUTEX_LOCKING (pthread mutexes in the file cannot be shared with
// Go); both are refused at Open with ErrUnsupported. tdbcore never
// creates either.
//
// # Locks
//
// The locks are libtdb's, at libtdb's offsets: open lock (byte 0), active
// lock for ClearIfFirst (byte 4, held for read while open), transaction
// lock (byte 8), free-list lock (164), one lock per hash chain (168+4*b),
// record locks at a record's offset while a traversal stands on it, and
// the all-record lock (the chain range, then from the data area to end of
// file). They are open-file-description (OFD) locks, which conflict with
// libtdb's classic fcntl locks but, unlike them, belong to the descriptor
// and survive other descriptors of the file being closed. Goroutines of
// one DB are excluded from each other by an in-process lock table in front
// of the kernel locks. Waiting for a lock held by another process polls
// (F_OFD_SETLK with back-off) instead of sleeping in the kernel, because
// the kernel's deadlock detector would otherwise see all goroutines of a
// handle as one owner and fail C peers' lock calls with EDEADLK.
//
// # Transactions and crashes
//
// Transactions use libtdb's recovery area: at commit the old contents of
// every changed block are written and synced to a recovery record before
// the file is changed. A process killed at any point leaves a file that
// the next opener (libtdb or tdbcore) rolls back to the state before the
// commit, or that already has the whole commit; the crash tests check
// this both ways, and that both implementations recover a crashed file to
// the same bytes.
//
// # Corrupt files
//
// Every offset and length read from a file is checked against the file
// size before use, and every chain and free-list walk is bounded and
// checked for cycles, so a corrupt or truncated file gives a
// *CorruptError naming the file and offset, never a panic, a hang or a
// write outside the file.
package tdbcore
