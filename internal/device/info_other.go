//go:build !linux

package device

// collect has no sources on this system yet: only the CPU part, which Info
// adds, is filled. (Windows sources are a separate piece of work; they go in
// info_windows.go, and this file's constraint becomes !linux && !windows.)
func collect() Fingerprint { return Fingerprint{} }
