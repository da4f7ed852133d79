package chunkstore

import "time"

// SetDirClock sets the clock that times d's chunks, for the suite in
// chunkstoretest (run from package chunkstore_test).
func SetDirClock(d *Dir, now func() time.Time) { d.now = now }
