package device

import "fmt"

// cpuid executes the CPUID instruction (cpuid_amd64.s).
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// cpuID returns EDX then EAX of CPUID leaf 1 as 16 upper-case hex digits:
// the feature flags and the processor signature (family, model, stepping),
// e.g. "BFEBFBFF00090672". EBX and ECX are left out because they vary
// between cores of one machine (APIC id) or with the OS (OSXSAVE).
func cpuID() string {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 1 {
		return ""
	}
	eax, _, _, edx := cpuid(1, 0)
	return fmt.Sprintf("%08X%08X", edx, eax)
}
