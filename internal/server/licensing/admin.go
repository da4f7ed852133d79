package licensing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/server/session"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// DefaultOfflineGrace is how long a lapsed lease stays usable offline
// when a licence does not say.
const DefaultOfflineGrace = 24 * time.Hour

// maxSeats bounds a licence's seats or devices.
const maxSeats = 100000

// CreateLicense checks spec and stores a new ACTIVE licence.
func (s *Service) CreateLicense(ctx context.Context, spec adminapi.CreateLicense) (store.License, error) {
	if spec.Kind == "" {
		spec.Kind = store.KindFloating
	}
	switch {
	case spec.Kind != store.KindFloating && spec.Kind != store.KindNodeLocked:
		return store.License{}, wire.Errorf(wire.CodeBadRequest, "kind must be %s or %s", store.KindFloating, store.KindNodeLocked)
	case spec.Seats < 1 || spec.Seats > maxSeats:
		return store.License{}, wire.Errorf(wire.CodeBadRequest, "seats must be 1 to %d", maxSeats)
	case spec.GraceSeconds < 0 || spec.OfflineGraceSeconds < 0:
		return store.License{}, wire.Errorf(wire.CodeBadRequest, "grace periods cannot be negative")
	case !spec.ExpiresAt.IsZero() && !spec.EffectiveAt.IsZero() && !spec.ExpiresAt.After(spec.EffectiveAt):
		return store.License{}, wire.Errorf(wire.CodeBadRequest, "expiresAt must be after effectiveAt")
	case len(spec.Features) > 256:
		return store.License{}, wire.Errorf(wire.CodeBadRequest, "more than 256 features")
	}
	for _, f := range spec.Features {
		if f == "" || len(f) > 64 || strings.ContainsAny(f, ",\x00") {
			return store.License{}, wire.Errorf(wire.CodeBadRequest, "feature %q: 1 to 64 bytes, no comma", f)
		}
	}
	if _, err := s.st.Org(ctx, spec.OrgID); err != nil {
		return store.License{}, fmt.Errorf("org %s: %w", spec.OrgID, err)
	}
	if _, err := s.st.Product(ctx, spec.ProductID); err != nil {
		return store.License{}, fmt.Errorf("product %s: %w", spec.ProductID, err)
	}
	now := s.now()
	l := store.License{
		ID: spec.ID, OrgID: spec.OrgID, ProductID: spec.ProductID, Edition: spec.Edition,
		Features: slices.Compact(slices.Sorted(slices.Values(spec.Features))), Kind: spec.Kind, Seats: spec.Seats,
		EffectiveAt: spec.EffectiveAt.UTC(), ExpiresAt: spec.ExpiresAt.UTC(),
		Grace: time.Duration(spec.GraceSeconds) * time.Second, OfflineGrace: time.Duration(spec.OfflineGraceSeconds) * time.Second,
		Status: store.StatusActive, Trial: spec.Trial, Created: now, Updated: now,
	}
	if l.OfflineGrace == 0 {
		l.OfflineGrace = DefaultOfflineGrace
	}
	if l.ID == "" {
		l.ID = "lic_" + token.ID()
	} else if _, err := s.st.License(ctx, l.ID); err == nil {
		return store.License{}, fmt.Errorf("licence %s: %w", l.ID, store.ErrExists)
	}
	if err := s.st.PutLicense(ctx, l); err != nil {
		return store.License{}, err
	}
	detail := fmt.Sprintf("%s, %d seats", l.Kind, l.Seats)
	if who := admin.Actor(ctx); who != "" {
		detail += ", by " + who
	}
	s.audit(ctx, store.AuditEntry{LicenseID: l.ID, OrgID: l.OrgID, Event: "created", Detail: detail})
	s.log.Info("licence created", "license", l.ID, "org", l.OrgID, "product", l.ProductID)
	return l, nil
}

// UpdateLicense stores l (changed by the caller: a renewal, an upgrade)
// and records why.
func (s *Service) UpdateLicense(ctx context.Context, l store.License, why string) error {
	l.Updated = s.now()
	if err := s.st.PutLicense(ctx, l); err != nil {
		return err
	}
	s.audit(ctx, store.AuditEntry{LicenseID: l.ID, OrgID: l.OrgID, Event: "updated", Detail: why})
	return nil
}

// SetStatus freezes, unfreezes or releases a licence and tells every
// session of its org and product at once. Releasing frees its seats.
func (s *Service) SetStatus(ctx context.Context, id, status, why string) (store.License, error) {
	l, err := s.st.License(ctx, id)
	if err != nil {
		return l, err
	}
	if l.Status == status {
		return l, nil // idempotent: the marketplace retries
	}
	if l.Status == store.StatusReleased {
		return l, wire.Errorf(wire.CodeReleased, "licence %s was released", id)
	}
	prev := l.Status
	l.Status, l.Updated = status, s.now()
	if err := s.st.PutLicense(ctx, l); err != nil {
		return l, err
	}
	s.audit(ctx, store.AuditEntry{LicenseID: id, OrgID: l.OrgID, Event: strings.ToLower(status), Detail: why})
	s.log.Info("licence status", "license", id, "from", prev, "to", status)

	state, code := "unfrozen", ""
	switch status {
	case store.StatusFrozen:
		state, code = "frozen", wire.CodeFrozen
	case store.StatusReleased:
		state, code = "released", wire.CodeReleased
		seats, _ := s.st.Seats(ctx, id)
		for _, seat := range seats {
			_, _ = s.st.ReleaseSeat(ctx, seat.ID)
		}
	}
	s.push(ctx, s.toProduct(l.OrgID, l.ProductID), l.ID, state, why, code)
	if code != "" {
		s.stopped(ctx, l, code)
	}
	return l, nil
}

// toProduct publishes to every session of an org's product; toSession to one.
func (s *Service) toProduct(org, product string) func(context.Context, wire.Event) error {
	return func(ctx context.Context, e wire.Event) error {
		_, err := s.hub.PublishAll(ctx, session.Filter{OrgID: org, ProductID: product}, e)
		return err
	}
}

func (s *Service) toSession(id string) func(context.Context, wire.Event) error {
	return func(ctx context.Context, e wire.Event) error {
		_, err := s.hub.Publish(ctx, id, e)
		return err
	}
}

// push tells sessions about a licence's new state: a LicenseState event,
// and for a licence they can no longer use a failed LicenseVerify.
func (s *Service) push(ctx context.Context, publish func(context.Context, wire.Event) error, licenseID, state, why, code string) {
	msg := fmt.Sprintf("licence %s is %s", licenseID, state)
	if why != "" {
		msg += ": " + why
	}
	ev := wire.Event{Kind: wire.KindLicenseState, Operate: "LicenseState", Params: map[string]string{"licenseId": licenseID, "state": state, "message": msg}}
	events := []wire.Event{ev}
	if code != "" {
		events = append(events, wire.Event{Kind: wire.KindLicenseVerify, Operate: "LicenseVerify", Params: map[string]string{
			"Status": "failed", "LicenseType": "string", "licenseId": licenseID, "errorCode": code, "errorMsg": msg}})
	}
	for _, e := range events {
		if err := publish(ctx, e); err != nil {
			s.log.Error("push licence state", "license", licenseID, "state", state, "err", err)
		}
	}
}

// by names, for an audit entry, who changed a licence through the admin
// API: the admin token, or the person signed in to the console.
func by(ctx context.Context) string {
	if who := admin.Actor(ctx); who != "" {
		return "by " + who
	}
	return "by an operator"
}

// ForceRelease frees one seat and tells the session that held it.
func (s *Service) ForceRelease(ctx context.Context, seatID string) (store.Seat, error) {
	seat, err := s.st.ReleaseSeat(ctx, seatID)
	if err != nil {
		return seat, err
	}
	s.audit(ctx, store.AuditEntry{LicenseID: seat.LicenseID, SessionID: seat.SessionID, UserID: seat.UserID, Event: "seat-released", Detail: by(ctx)})
	if seat.SessionID != "" {
		s.push(ctx, s.toSession(seat.SessionID), seat.LicenseID, "released", "the seat was released by an operator", wire.CodeReleased)
	}
	return seat, nil
}

// MountAdmin adds the licence endpoints to the admin API.
func (s *Service) MountAdmin(a *admin.API) {
	p := adminapi.Prefix
	read, lic := adminapi.RoleReadOnly, adminapi.RoleLicenses
	a.Handle(lic, "POST "+p+"/licenses", s.adminCreate)
	a.Handle(read, "GET "+p+"/licenses", s.adminList)
	a.Handle(read, "GET "+p+"/licenses/{id}", s.adminShow)
	a.Handle(lic, "PATCH "+p+"/licenses/{id}", s.adminUpdate)
	a.Handle(lic, "POST "+p+"/licenses/{id}/{action}", s.adminStatus)
	a.Handle(lic, "PUT "+p+"/licenses/{id}/users", s.adminUsers)
	a.Handle(read, "GET "+p+"/licenses/{id}/audit", s.adminAudit)
	a.Handle(read, "GET "+p+"/audit", s.adminAuditLog)
	a.Handle(read, "GET "+p+"/seats", s.adminSeats)
	a.Handle(lic, "DELETE "+p+"/seats/{id}", s.adminReleaseSeat)
	a.Handle(read, "GET "+p+"/products/{id}/keys", s.adminKeys)
	a.Handle(adminapi.RoleOwner, "POST "+p+"/products/{id}/keys/rotate", s.adminRotate)
}

func (s *Service) answerErr(w http.ResponseWriter, what string, err error) {
	// A wrapped store error names what was missing ("org acme: store: not
	// found"); name that, not the licence.
	for _, sentinel := range []error{store.ErrNotFound, store.ErrExists} {
		if msg, ok := strings.CutSuffix(err.Error(), ": "+sentinel.Error()); ok && errors.Is(err, sentinel) {
			what = msg
		}
	}
	if we, ok := err.(*wire.Error); ok {
		status := http.StatusBadRequest
		if we.Code == wire.CodeReleased {
			status = http.StatusConflict
		}
		admin.Fail(w, status, we.Code, we.Message)
		return
	}
	admin.StoreFail(w, s.log, what, err)
}

func (s *Service) adminCreate(w http.ResponseWriter, r *http.Request) {
	var req adminapi.CreateLicense
	if !admin.Decode(w, r, &req) || !admin.CheckID(w, "id", req.ID) || !admin.CheckText(w, "orgId", req.OrgID, true, 64) ||
		!admin.CheckText(w, "productId", req.ProductID, true, 64) || !admin.CheckText(w, "edition", req.Edition, false, 64) {
		return
	}
	l, err := s.CreateLicense(r.Context(), req)
	if err != nil {
		s.answerErr(w, "licence "+req.ID, err)
		return
	}
	admin.Reply(w, http.StatusCreated, licenseOut(l))
}

func (s *Service) adminList(w http.ResponseWriter, r *http.Request) {
	ls, err := s.st.Licenses(r.Context(), r.URL.Query().Get("org"), r.URL.Query().Get("product"))
	if err != nil {
		admin.StoreFail(w, s.log, "licences", err)
		return
	}
	admin.Reply(w, http.StatusOK, admin.Each(ls, licenseOut))
}

func (s *Service) adminShow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	l, err := s.st.License(r.Context(), id)
	if err != nil {
		admin.StoreFail(w, s.log, "licence "+id, err)
		return
	}
	seats, err := s.st.Seats(r.Context(), id)
	if err != nil {
		admin.StoreFail(w, s.log, "seats", err)
		return
	}
	admin.Reply(w, http.StatusOK, adminapi.LicenseDetail{License: licenseOut(l), SeatsInUse: admin.Each(liveSeats(seats, s.now()), seatOut)})
}

// liveSeats drops lapsed leases: they are free.
func liveSeats(seats []store.Seat, now time.Time) []store.Seat {
	out := []store.Seat{}
	for _, seat := range seats {
		if !seat.Lapsed(now) {
			out = append(out, seat)
		}
	}
	return out
}

func (s *Service) adminStatus(w http.ResponseWriter, r *http.Request) {
	status, ok := map[string]string{"freeze": store.StatusFrozen, "unfreeze": store.StatusActive, "release": store.StatusReleased}[r.PathValue("action")]
	if !ok {
		admin.Fail(w, http.StatusNotFound, wire.CodeNotFound, "no licence action "+r.PathValue("action")+" (freeze, unfreeze, release)")
		return
	}
	l, err := s.SetStatus(r.Context(), r.PathValue("id"), status, by(r.Context()))
	if err != nil {
		s.answerErr(w, "licence "+r.PathValue("id"), err)
		return
	}
	admin.Reply(w, http.StatusOK, licenseOut(l))
}

// adminUpdate extends a licence (a new expiry) or changes its seats.
// Seats fewer than those in use take none back: the next requests find
// the licence full.
func (s *Service) adminUpdate(w http.ResponseWriter, r *http.Request) {
	var req adminapi.UpdateLicense
	if !admin.Decode(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	l, err := s.st.License(r.Context(), id)
	if err != nil {
		admin.StoreFail(w, s.log, "licence "+id, err)
		return
	}
	var why []string
	if req.Seats != nil {
		if *req.Seats < 1 || *req.Seats > maxSeats {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("seats must be 1 to %d", maxSeats))
			return
		}
		why = append(why, fmt.Sprintf("seats %d -> %d", l.Seats, *req.Seats))
		l.Seats = *req.Seats
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		if !t.IsZero() && !l.EffectiveAt.IsZero() && !t.After(l.EffectiveAt) {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "expiresAt must be after effectiveAt")
			return
		}
		why = append(why, fmt.Sprintf("expires %s -> %s", expiryText(l.ExpiresAt), expiryText(t)))
		l.ExpiresAt = t
	}
	if len(why) == 0 {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "nothing to change: give expiresAt or seats")
		return
	}
	if l.Status == store.StatusReleased {
		admin.Fail(w, http.StatusConflict, wire.CodeReleased, "licence "+id+" was released")
		return
	}
	if err := s.UpdateLicense(r.Context(), l, strings.Join(why, ", ")+", "+by(r.Context())); err != nil {
		admin.StoreFail(w, s.log, "licence "+id, err)
		return
	}
	admin.Reply(w, http.StatusOK, licenseOut(l))
}

func expiryText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

// maxNamedUsers bounds the users an operator assigns one licence.
const maxNamedUsers = 10000

// adminUsers limits a licence to named users, or lifts the limit, and
// sets the users an operator assigns it to. Sessions holding a seat keep
// it until their next renewal, which refuses a user no longer named.
func (s *Service) adminUsers(w http.ResponseWriter, r *http.Request) {
	var req adminapi.LicenseUsers
	if !admin.Decode(w, r, &req) {
		return
	}
	if len(req.Users) > maxNamedUsers {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("more than %d users", maxNamedUsers))
		return
	}
	l, err := s.st.License(r.Context(), r.PathValue("id"))
	if err != nil {
		admin.StoreFail(w, s.log, "licence "+r.PathValue("id"), err)
		return
	}
	users := slices.Compact(slices.Sorted(slices.Values(req.Users)))
	for _, id := range users {
		u, err := s.st.User(r.Context(), id)
		if err != nil {
			admin.StoreFail(w, s.log, "user "+id, err)
			return
		}
		if u.OrgID != l.OrgID {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("user %s is not in organisation %s, the licence's", id, l.OrgID))
			return
		}
	}
	l.NamedUsers, l.Users = req.NamedUsers, users
	why := fmt.Sprintf("named users %t, %d assigned, %s", l.NamedUsers, len(users), by(r.Context()))
	if err := s.UpdateLicense(r.Context(), l, why); err != nil {
		admin.StoreFail(w, s.log, "licence "+l.ID, err)
		return
	}
	admin.Reply(w, http.StatusOK, licenseOut(l))
}

func (s *Service) adminAudit(w http.ResponseWriter, r *http.Request) {
	if _, err := s.st.License(r.Context(), r.PathValue("id")); err != nil {
		admin.StoreFail(w, s.log, "licence "+r.PathValue("id"), err)
		return
	}
	limit := 100
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 && v <= 10000 {
		limit = v
	}
	entries, err := s.st.Audit(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		admin.StoreFail(w, s.log, "audit", err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	admin.Reply(w, http.StatusOK, admin.Each(entries, auditOut))
}

// adminAuditLog answers the audit log across licences, newest first, a
// page at a time: ?license= and ?org= keep one licence's or one
// organisation's entries, ?limit= (1 to adminapi.MaxAuditLimit) sizes
// the page, ?cursor= (the previous page's next) continues the walk.
func (s *Service) adminAuditLog(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), r.URL.Query()
	q := store.AuditQuery{LicenseID: v.Get("license"), OrgID: v.Get("org"), Limit: adminapi.DefaultAuditLimit}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > adminapi.MaxAuditLimit {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("limit %q: a number from 1 to %d", l, adminapi.MaxAuditLimit))
			return
		}
		q.Limit = n
	}
	if c := v.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, fmt.Sprintf("cursor %q: not one this list gave", c))
			return
		}
		q.Before = n
	}
	if q.LicenseID != "" {
		l, err := s.st.License(ctx, q.LicenseID)
		if err != nil {
			admin.StoreFail(w, s.log, "licence "+q.LicenseID, err)
			return
		}
		if q.OrgID != "" && l.OrgID != q.OrgID {
			admin.Reply(w, http.StatusOK, adminapi.AuditLog{Entries: []adminapi.AuditEntry{}})
			return
		}
	} else if q.OrgID != "" {
		if _, err := s.st.Org(ctx, q.OrgID); err != nil {
			admin.StoreFail(w, s.log, "org "+q.OrgID, err)
			return
		}
	}
	limit := q.Limit
	q.Limit++ // one more says whether a next page exists
	entries, err := s.st.AuditLog(ctx, q)
	if err != nil {
		admin.StoreFail(w, s.log, "audit", err)
		return
	}
	out := adminapi.AuditLog{Entries: []adminapi.AuditEntry{}}
	if len(entries) > limit {
		entries = entries[:limit]
		out.Next = strconv.FormatInt(entries[limit-1].Seq, 10)
	}
	out.Entries = append(out.Entries, admin.Each(entries, auditOut)...)
	admin.Reply(w, http.StatusOK, out)
}

func (s *Service) adminSeats(w http.ResponseWriter, r *http.Request) {
	if id := r.URL.Query().Get("license"); id != "" {
		if _, err := s.st.License(r.Context(), id); err != nil {
			admin.StoreFail(w, s.log, "licence "+id, err)
			return
		}
	}
	seats, err := s.st.Seats(r.Context(), r.URL.Query().Get("license"))
	if err != nil {
		admin.StoreFail(w, s.log, "seats", err)
		return
	}
	admin.Reply(w, http.StatusOK, admin.Each(liveSeats(seats, s.now()), seatOut))
}

func (s *Service) adminReleaseSeat(w http.ResponseWriter, r *http.Request) {
	if _, err := s.ForceRelease(r.Context(), r.PathValue("id")); err != nil {
		admin.StoreFail(w, s.log, "seat "+r.PathValue("id"), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) adminKeys(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.st.Product(r.Context(), id); err != nil {
		admin.StoreFail(w, s.log, "product "+id, err)
		return
	}
	keys, err := s.PublicKeys(r.Context(), id)
	if err != nil {
		admin.StoreFail(w, s.log, "keys", err)
		return
	}
	out := adminapi.PublicKeys{ProductID: id, Keys: []string{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, k.String())
	}
	admin.Reply(w, http.StatusOK, out)
}

func (s *Service) adminRotate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.st.Product(r.Context(), id); err != nil {
		admin.StoreFail(w, s.log, "product "+id, err)
		return
	}
	if _, err := s.RotateKey(r.Context(), id); err != nil {
		admin.StoreFail(w, s.log, "keys", err)
		return
	}
	s.adminKeys(w, r)
}
