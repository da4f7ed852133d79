package marketpush

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// Admin serves the outbox's admin endpoints (adminapi/marketplace.go).
// Pusher and Client may be nil: the outbox is still shown, the order query
// answers that no marketplace is configured.
type Admin struct {
	St     store.Outbox
	Pusher *Pusher
	Client *marketapi.Client
	Log    *slog.Logger
}

// Mount adds the endpoints to a.
func (m *Admin) Mount(a *admin.API) {
	p := adminapi.Prefix
	a.Handle(adminapi.RoleReadOnly, "GET "+p+"/marketplace/usage", m.usage)
	a.Handle(adminapi.RoleLicenses, "POST "+p+"/marketplace/usage/requeue", m.requeue)
	a.Handle(adminapi.RoleReadOnly, "GET "+p+"/marketplace/orders/{id}", m.order)
}

func (m *Admin) usage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && state != store.OutboxPending && state != store.OutboxSent && state != store.OutboxParked {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "state must be pending, sent or parked")
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "limit must be 0 (all) to 100000")
			return
		}
		limit = n
	}
	st, err := m.St.OutboxStats(r.Context())
	if err != nil {
		admin.StoreFail(w, m.Log, "outbox", err)
		return
	}
	recs, err := m.St.UsageOutbox(r.Context(), state, limit)
	if err != nil {
		admin.StoreFail(w, m.Log, "outbox", err)
		return
	}
	out := adminapi.MarketUsage{Pending: st.Pending, Sent: st.Sent, Parked: st.Parked, Warned: st.Warned,
		OldestPending: st.Oldest, Records: []adminapi.OutboxEntry{}}
	if !st.Oldest.IsZero() {
		out.OldestAge = time.Since(st.Oldest).Seconds()
	}
	if m.Pusher != nil {
		s := m.Pusher.Status()
		out.Pusher = adminapi.MarketPusher{Enabled: true, Holder: s.Holder, Leader: s.Leader, LastCycle: s.LastCycle, LastPush: s.LastPush, LastError: s.LastError}
	}
	for _, r := range recs {
		out.Records = append(out.Records, adminapi.OutboxEntry{MeteringSN: r.SN, InstanceID: r.InstanceID, Begin: r.Begin, End: r.End,
			Value: r.Value, State: r.State, Attempts: r.Attempts, Reason: r.Reason, Warned: r.Warned, Sent: r.Sent})
	}
	admin.Reply(w, http.StatusOK, out)
}

func (m *Admin) requeue(w http.ResponseWriter, r *http.Request) {
	var in adminapi.Requeue
	if !admin.Decode(w, r, &in) {
		return
	}
	if len(in.MeteringSNs) > 100000 {
		admin.Fail(w, http.StatusBadRequest, wire.CodeBadRequest, "at most 100000 metering numbers")
		return
	}
	n, err := RequeueParked(r.Context(), m.St, in.MeteringSNs, time.Now().UTC())
	if err != nil {
		admin.StoreFail(w, m.Log, "outbox", err)
		return
	}
	if m.Pusher != nil {
		m.Pusher.Kick() // whatever is due goes now: an operator asked
	}
	admin.Reply(w, http.StatusOK, adminapi.Requeued{Requeued: n})
}

func (m *Admin) order(w http.ResponseWriter, r *http.Request) {
	if m.Client == nil {
		admin.Fail(w, http.StatusConflict, wire.CodeBadRequest, "no marketplace API is configured (iscd serve --marketplace-ak-file ...)")
		return
	}
	id := r.PathValue("id")
	if !admin.CheckText(w, "id", id, true, 128) || !admin.CheckText(w, "line", r.URL.Query().Get("line"), false, 128) {
		return
	}
	o, err := m.Client.Order(r.Context(), id, r.URL.Query().Get("line"))
	if err != nil {
		admin.Fail(w, http.StatusBadGateway, wire.CodeUnavailable, err.Error())
		return
	}
	admin.Reply(w, http.StatusOK, o)
}

// RequeueParked makes parked records pending and due at now (sns: those;
// none: every parked record), with attempts, reason and warning cleared,
// and returns how many: an operator's word that what made the
// marketplace refuse them is fixed.
func RequeueParked(ctx context.Context, st store.Outbox, sns []string, now time.Time) (int, error) {
	return st.UpdateParked(ctx, sns, func(r store.OutboxRecord) store.OutboxRecord {
		r.State, r.Attempts, r.Reason, r.NextTry, r.Warned = store.OutboxPending, 0, "", now, false
		return r
	})
}
