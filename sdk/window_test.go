package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// A save over a slow link (4 MiB/s each way) is canceled within a second:
// the chunks in flight are a few round trips of the link, not a fixed
// count that takes seconds to drain; and its progress keeps moving.
func TestSaveOverASlowLinkCancelsWithinASecond(t *testing.T) {
	srv := servertest.Start(t)
	p := startProxy(t, srv.Addr)
	p.Throttle(4 << 20)
	cfg := config(t, srv)
	cfg.Endpoint = p.Endpoint()
	c := connect(t, cfg)
	local := writeTemp(t, "big.prt", randomBytes(30, 24<<20))
	ctx, cancel := context.WithCancel(context.Background())
	var canceled time.Time
	var progress []time.Time
	_, err := c.SaveTo(ctx, local, "/slow.prt", 0, sdk.SaveOptions{Progress: func(pr sdk.Progress) {
		progress = append(progress, time.Now())
		if canceled.IsZero() && pr.BytesDone > 20<<20 {
			canceled = time.Now()
			cancel()
		}
	}})
	took := time.Since(canceled)
	if !errors.Is(err, context.Canceled) || canceled.IsZero() {
		t.Fatalf("err = %v (canceled at %v), want context.Canceled", err, canceled)
	}
	t.Logf("returned %v after the cancel (%v); %d progress reports", took, err, len(progress))
	if took > time.Second {
		t.Fatalf("the save returned %v after it was canceled", took)
	}
	// A round is half a second of the link (two in flight), where it was
	// a fixed 16 MiB batch: 4 s of this link without a report. The bound
	// leaves a loaded machine room (2 s was seen on one).
	for i := 1; i < len(progress); i++ {
		if gap := progress[i].Sub(progress[i-1]); gap > 3500*time.Millisecond {
			t.Fatalf("no progress for %v", gap)
		}
	}
}
