//go:build !amd64

package device

// cpuID is empty where there is no x86 CPUID instruction: the CPU part of
// the fingerprint is left empty, and the drift rule works on the other three.
func cpuID() string { return "" }
