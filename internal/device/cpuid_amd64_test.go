package device

import (
	"regexp"
	"strconv"
	"testing"
)

func TestCPUID(t *testing.T) {
	id := cpuID()
	if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(id) {
		t.Fatalf("cpuID = %q, want 16 upper-case hex digits", id)
	}
	// EDX bit 0 (FPU) is set on every amd64 processor.
	if edx, _ := strconv.ParseUint(id[:8], 16, 32); edx&1 == 0 {
		t.Errorf("cpuID = %q: EDX lacks the FPU flag; are EDX and EAX swapped?", id)
	}
	if cpuID() != id {
		t.Error("cpuID is not stable")
	}
}
