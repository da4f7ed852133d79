//go:build !linux && !windows

package device

// collect has no sources on this system yet: only the CPU part, which Info
// adds, is filled.
func collect() Fingerprint { return Fingerprint{} }
