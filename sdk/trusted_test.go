package sdk

import (
	"log/slog"
	"os"
	"testing"
	"time"
)

func TestClockSetBackIsDetected(t *testing.T) {
	t.Setenv(EnvWorkspace, t.TempDir())
	trusted.mark = time.Time{}
	log := slog.New(slog.DiscardHandler)
	keys := "ISK1.demo-cad.00000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

	// No mark yet: the licence itself is judged (here: malformed).
	if res, err := VerifyLicense("ISL1.x.y.z", keys, "A|B|C|D"); err != nil || res.Code != "malformed" {
		t.Fatalf("without a mark: %+v %v", res, err)
	}
	// The service's clock said an hour from now: the local clock is behind
	// what the SDK has seen, so it was set back.
	recordTrustedTime(log, time.Now().Add(time.Hour))
	res, err := VerifyLicense("ISL1.x.y.z", keys, "A|B|C|D")
	if err != nil || res.Valid || res.Code != "clock_tampered" {
		t.Fatalf("clock set back: %+v %v", res, err)
	}
	// Editing the mark invalidates it rather than moving it.
	path := trustedTimePath()
	b, _ := os.ReadFile(path)
	b[5] ^= 1 // another digit
	os.WriteFile(path, b, 0o600)
	trusted.mark = time.Time{}
	if res, _ := VerifyLicense("ISL1.x.y.z", keys, "A|B|C|D"); res.Code != "malformed" {
		t.Fatalf("edited mark still used: %+v", res)
	}
}
