package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// TestSignIns: device grants and refresh families are created once,
// changed in one transaction (an aborted change stores nothing), keep
// their ids, and survive a reopen; a grant can be deleted.
func TestSignIns(t *testing.T, b Backend) {
	s, where := b.Open(t, "", 0)
	must(t, s.CreateOrg(ctx, store.Org{ID: "o1", Name: "Org", Created: created}))
	must(t, s.CreateUser(ctx, store.User{ID: "u1", OrgID: "o1", Name: "Ada", Created: created}))

	g := store.DeviceGrant{ID: "g1", SecretHash: "sh", DeviceHash: "dh", ProductID: "p", State: store.GrantPending,
		Interval: 5, Created: created, Expires: created.Add(10 * time.Minute)}
	must(t, s.CreateDeviceGrant(ctx, g))
	if err := s.CreateDeviceGrant(ctx, g); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a grant's id twice: %v", err)
	}
	got, err := s.UpdateDeviceGrant(ctx, "g1", func(g *store.DeviceGrant) error {
		g.ID, g.State, g.UserID = "other", store.GrantApproved, "u1"
		return nil
	})
	if err != nil || got.ID != "g1" || got.State != store.GrantApproved || got.SecretHash != "sh" {
		t.Fatalf("updated grant: %+v %v", got, err)
	}
	stop := errors.New("stop")
	if _, err := s.UpdateDeviceGrant(ctx, "g1", func(g *store.DeviceGrant) error { g.State = store.GrantDenied; return stop }); !errors.Is(err, stop) {
		t.Fatalf("aborted update: %v", err)
	}
	if _, err := s.UpdateDeviceGrant(ctx, "nope", func(*store.DeviceGrant) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown grant: %v", err)
	}

	f := store.RefreshFamily{ID: "f1", UserID: "u1", OrgID: "o1", ProductID: "p", DeviceHash: "dh", CurrentHash: "h1",
		Created: created, Rotated: created, Expires: created.Add(30 * 24 * time.Hour)}
	must(t, s.CreateRefreshFamily(ctx, f))
	if err := s.CreateRefreshFamily(ctx, f); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a family's id twice: %v", err)
	}
	gotF, err := s.UpdateRefreshFamily(ctx, "f1", func(f *store.RefreshFamily) error {
		f.Previous, f.CurrentHash, f.UserID = append(f.Previous, f.CurrentHash), "h2", "someone-else"
		return nil
	})
	if err != nil || gotF.CurrentHash != "h2" || len(gotF.Previous) != 1 || gotF.UserID != "u1" {
		t.Fatalf("rotated family: %+v %v", gotF, err)
	}
	if _, err := s.UpdateRefreshFamily(ctx, "f1", func(f *store.RefreshFamily) error { f.Revoked = true; return stop }); !errors.Is(err, stop) {
		t.Fatalf("aborted family update: %v", err)
	}

	must(t, s.Close())
	s, _ = b.Open(t, where, 0)
	if got, err := s.UpdateDeviceGrant(ctx, "g1", func(*store.DeviceGrant) error { return nil }); err != nil || got.State != store.GrantApproved || !got.Expires.Equal(g.Expires) {
		t.Fatalf("grant after reopen: %+v %v", got, err)
	}
	if got, err := s.RefreshFamily(ctx, "f1"); err != nil || got.Revoked || got.CurrentHash != "h2" || got.UserID != "u1" {
		t.Fatalf("family after reopen: %+v %v", got, err)
	}
	if _, err := s.RefreshFamily(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown family: %v", err)
	}
	// Sweeping: only what expired before the time given goes.
	later := g
	later.ID, later.Expires = "g2", created.Add(time.Hour)
	must(t, s.CreateDeviceGrant(ctx, later))
	if n, err := s.DeleteExpiredDeviceGrants(ctx, created.Add(30*time.Minute)); n != 1 || err != nil {
		t.Fatalf("expired grants swept: %d %v, want 1", n, err)
	}
	if _, err := s.UpdateDeviceGrant(ctx, "g2", func(*store.DeviceGrant) error { return nil }); err != nil {
		t.Fatalf("a live grant after the sweep: %v", err)
	}
	must(t, s.DeleteDeviceGrant(ctx, "g1"))
	if _, err := s.UpdateDeviceGrant(ctx, "g1", func(*store.DeviceGrant) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted grant: %v", err)
	}
}
