package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/iscsdk/iscsdk/internal/store"
)

// TestIdentity: orgs and users changed in place, users upserted in one
// batch (all or nothing), department trees and unified-login clients kept
// per org, surviving a reopen.
func TestIdentity(t *testing.T, b Backend) {
	s, where := b.Open(t, "", 0)
	must(t, s.CreateOrg(ctx, store.Org{ID: "t1", Name: "Tenant", Created: created}))
	must(t, s.CreateOrg(ctx, store.Org{ID: "t2", Name: "Other", Created: created}))

	must(t, s.UpdateOrg(ctx, "t1", func(o *store.Org) error {
		o.ID = "moved" // ignored: the id stays
		o.Tenant = &store.Tenant{TenantID: "T-1", DomainName: "https://x.example"}
		return nil
	}))
	if o, err := s.Org(ctx, "t1"); err != nil || o.Tenant == nil || o.Tenant.TenantID != "T-1" || o.Name != "Tenant" {
		t.Fatalf("updated org: %+v %v", o, err)
	}
	if err := s.UpdateOrg(ctx, "nope", func(*store.Org) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown org: %v", err)
	}
	stop := errors.New("stop")
	if err := s.UpdateOrg(ctx, "t1", func(o *store.Org) error { o.Closed = true; return stop }); !errors.Is(err, stop) {
		t.Fatalf("aborted update: %v", err)
	}
	if o, _ := s.Org(ctx, "t1"); o.Closed {
		t.Fatal("an aborted update was stored")
	}

	// 500 users in one call, then a change of some and a new one.
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%03d", i)
	}
	users, err := s.UpsertUsers(ctx, "t1", ids, func(u *store.User, found bool) error {
		if found {
			return fmt.Errorf("user %s found before it was made", u.ID)
		}
		u.Name, u.Role, u.Authorised, u.Created = "name "+u.ID, store.RoleUser, true, created
		return nil
	})
	if err != nil || len(users) != 500 {
		t.Fatalf("500 new users: %d %v", len(users), err)
	}
	if all, _ := s.Users(ctx, "t1"); len(all) != 500 {
		t.Fatalf("org t1 has %d users, want 500", len(all))
	}
	seen := 0
	_, err = s.UpsertUsers(ctx, "t1", []string{"u007", "new"}, func(u *store.User, found bool) error {
		if found {
			seen++
			u.Disabled, u.Role = true, store.RoleAdmin
		} else {
			u.Name = "new one"
		}
		return nil
	})
	must(t, err)
	if u, _ := s.User(ctx, "u007"); seen != 1 || !u.Disabled || u.Role != store.RoleAdmin || u.Name != "name u007" || u.OrgID != "t1" {
		t.Fatalf("changed user: %+v (seen %d)", u, seen)
	}
	// All or nothing: an error on the second user keeps the first as it was.
	_, err = s.UpsertUsers(ctx, "t1", []string{"u001", "u002"}, func(u *store.User, _ bool) error {
		if u.ID == "u002" {
			return stop
		}
		u.Deleted = true
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("aborted upsert: %v", err)
	}
	if u, _ := s.User(ctx, "u001"); u.Deleted {
		t.Fatal("an aborted upsert changed a user")
	}
	// A user of another org is not taken over; an unknown org is refused.
	if _, err := s.UpsertUsers(ctx, "t2", []string{"u001"}, func(*store.User, bool) error { return nil }); !errors.Is(err, store.ErrExists) {
		t.Fatalf("another org's user: %v", err)
	}
	if _, err := s.UpsertUsers(ctx, "nope", []string{"x"}, func(*store.User, bool) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown org: %v", err)
	}

	// Department trees.
	if d, err := s.Departments(ctx, "t1"); err != nil || len(d) != 0 {
		t.Fatalf("no tree yet: %v %v", d, err)
	}
	tree := []store.Department{{Code: "root", Name: "Company"}, {Code: "eng", Name: "Engineering", Parent: "root"}}
	must(t, s.UpdateDepartments(ctx, "t1", func(cur []store.Department) ([]store.Department, error) {
		if len(cur) != 0 {
			return nil, fmt.Errorf("stored tree %v, want none", cur)
		}
		return tree, nil
	}))
	if err := s.UpdateDepartments(ctx, "t1", func([]store.Department) ([]store.Department, error) { return nil, stop }); !errors.Is(err, stop) {
		t.Fatalf("aborted tree change: %v", err)
	}
	if err := s.UpdateDepartments(ctx, "nope", func(c []store.Department) ([]store.Department, error) { return c, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tree of an unknown org: %v", err)
	}
	if d, _ := s.Departments(ctx, "t2"); len(d) != 0 {
		t.Fatalf("org t2 got a tree: %v", d)
	}

	// Unified-login clients.
	if _, err := s.OrgLogin(ctx, "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no login yet: %v", err)
	}
	must(t, s.PutOrgLogin(ctx, store.OrgLogin{OrgID: "t1", AppID: "app", ClientID: "c1", SealedSecret: `{"sealed":1}`, Updated: created}))
	must(t, s.PutOrgLogin(ctx, store.OrgLogin{OrgID: "t1", AppID: "app", ClientID: "c2", SealedSecret: `{"sealed":2}`, Updated: created}))
	if err := s.PutOrgLogin(ctx, store.OrgLogin{OrgID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("login of an unknown org: %v", err)
	}

	must(t, s.Close())
	s, _ = b.Open(t, where, 0)
	if d, err := s.Departments(ctx, "t1"); err != nil || len(d) != 2 || d[1] != tree[1] {
		t.Fatalf("tree after reopen: %v %v", d, err)
	}
	if l, err := s.OrgLogin(ctx, "t1"); err != nil || l.ClientID != "c2" || l.SealedSecret != `{"sealed":2}` {
		t.Fatalf("login after reopen: %+v %v", l, err)
	}
	if u, err := s.User(ctx, "new"); err != nil || u.Name != "new one" || u.OrgID != "t1" {
		t.Fatalf("upserted user after reopen: %+v %v", u, err)
	}
}
