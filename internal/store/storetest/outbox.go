package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

func outboxRec(sn string, begin time.Time) store.OutboxRecord {
	return store.OutboxRecord{SN: sn, InstanceID: "mkt_1", Begin: begin, End: begin.Add(time.Minute), Value: 0.0167,
		Source: "compute", NextTry: created, Created: created}
}

// TestOutbox: usage records are held once per metering number, listed
// due in begin order, saved through their states, counted, re-queued.
func TestOutbox(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	if recs, err := db.DueUsage(ctx, created, 10); err != nil || len(recs) != 0 {
		t.Fatalf("DueUsage on an empty outbox = %v, %v", recs, err)
	}
	var recs []store.OutboxRecord
	for i := range 5 {
		recs = append(recs, outboxRec(fmt.Sprintf("sn-%d", i), created.Add(time.Duration(5-i)*time.Hour)))
	}
	n, err := db.EnqueueUsage(ctx, recs)
	if err != nil || n != 5 {
		t.Fatalf("EnqueueUsage = %d, %v; want 5", n, err)
	}
	// Again, with a changed value: nothing changes.
	recs[0].Value = 99
	if n, err := db.EnqueueUsage(ctx, recs); err != nil || n != 0 {
		t.Fatalf("EnqueueUsage again = %d, %v; want 0", n, err)
	}
	due, err := db.DueUsage(ctx, created, 3)
	must(t, err)
	if len(due) != 3 || due[0].SN != "sn-4" || due[1].SN != "sn-3" || due[2].SN != "sn-2" {
		t.Fatalf("DueUsage(limit 3) = %v; want sn-4, sn-3, sn-2 (oldest begin first)", sns(due))
	}
	if due[0].State != store.OutboxPending || due[0].Value != 0.0167 || !due[0].Begin.Equal(created.Add(time.Hour)) {
		t.Errorf("due record = %+v", due[0])
	}
	if got, _ := db.DueUsage(ctx, created, 0); len(got) != 5 {
		t.Errorf("DueUsage(limit 0) = %d records, want all 5", len(got))
	}
	for i, r := range recs {
		if r.SN == "sn-0" {
			recs[i].Value = 0.0167
		}
	}

	// sn-4 sent, sn-3 parked, sn-2 retried later, sn-1 flagged.
	sent := due[0]
	sent.State, sent.Sent, sent.Attempts = store.OutboxSent, created.Add(time.Minute), 1
	parked := due[1]
	parked.State, parked.Reason, parked.Attempts = store.OutboxParked, "MKT.9001 instance not found", 1
	later := due[2]
	later.Attempts, later.NextTry, later.Reason = 1, created.Add(time.Hour), "timeout"
	flagged := recs[1]
	flagged.State, flagged.Warned, flagged.NextTry = store.OutboxPending, true, created
	ghost := outboxRec("nobody", created)
	must(t, db.SaveUsage(ctx, []store.OutboxRecord{sent, parked, later, flagged, ghost}))
	due, err = db.DueUsage(ctx, created.Add(time.Minute), 0)
	must(t, err)
	if len(due) != 2 || due[0].SN != "sn-1" || due[1].SN != "sn-0" || !due[0].Warned {
		t.Fatalf("due after saving = %v; want sn-1 (warned), sn-0", sns(due))
	}
	if due, _ := db.DueUsage(ctx, created.Add(time.Hour), 0); len(due) != 3 {
		t.Errorf("due an hour later = %v; want the retried sn-2 back", sns(due))
	}
	if got, err := db.UsageOutbox(ctx, store.OutboxParked, 0); err != nil || len(got) != 1 || got[0].Reason != "MKT.9001 instance not found" {
		t.Errorf("parked = %+v, %v", got, err)
	}
	if got, err := db.UsageOutbox(ctx, store.OutboxSent, 0); err != nil || len(got) != 1 || !got[0].Sent.Equal(created.Add(time.Minute)) {
		t.Errorf("sent = %+v, %v", got, err)
	}
	if got, _ := db.UsageOutbox(ctx, "", 2); len(got) != 2 {
		t.Errorf("UsageOutbox(any, 2) = %d records", len(got))
	}
	if got, _ := db.UsageOutbox(ctx, "", 0); len(got) != 5 {
		t.Errorf("UsageOutbox(any) = %d records; the unknown SN must not be added", len(got))
	}
	st, err := db.OutboxStats(ctx)
	must(t, err)
	if st.Pending != 3 || st.Sent != 1 || st.Parked != 1 || st.Warned != 1 || !st.Oldest.Equal(created) {
		t.Errorf("stats = %+v; want 3 pending (1 warned, oldest %v), 1 sent, 1 parked", st, created)
	}

	// Re-queue (as marketpush.RequeueParked does): parked becomes
	// pending, due now, reason gone.
	requeue := func(sns []string, now time.Time) (int, error) {
		return db.UpdateParked(ctx, sns, func(r store.OutboxRecord) store.OutboxRecord {
			r.State, r.Attempts, r.Reason, r.NextTry, r.Warned = store.OutboxPending, 0, "", now, false
			return r
		})
	}
	if n, err := requeue([]string{"sn-4", "nope"}, created); err != nil || n != 0 {
		t.Errorf("RequeueParked(a sent record) = %d, %v; want 0", n, err)
	}
	if n, err := requeue(nil, created.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("RequeueParked(all) = %d, %v; want 1", n, err)
	}
	due, _ = db.DueUsage(ctx, created.Add(2*time.Minute), 0)
	if len(due) != 3 || due[0].SN != "sn-3" || due[0].Reason != "" || due[0].Attempts != 0 {
		t.Errorf("due after re-queue = %+v; want sn-3 first, reason and attempts cleared", due)
	}
	if st, _ := db.OutboxStats(ctx); st.Parked != 0 || st.Pending != 4 {
		t.Errorf("stats after re-queue = %+v", st)
	}
}

func sns(recs []store.OutboxRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.SN)
	}
	return out
}

// TestDeliveries: a licence delivery is held once per eventId.
func TestDeliveries(t *testing.T, b Backend) {
	db, _ := b.Open(t, "", 0)
	if _, err := db.Delivery(ctx, "ev-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delivery(unknown): %v, want ErrNotFound", err)
	}
	d, err := db.EnqueueDelivery(ctx, store.Delivery{EventID: "ev-1", InstanceID: "mkt_1", License: "L1", NextTry: created, Created: created})
	if err != nil || d.State != store.OutboxPending || d.License != "L1" {
		t.Fatalf("EnqueueDelivery = %+v, %v", d, err)
	}
	if d, err := db.EnqueueDelivery(ctx, store.Delivery{EventID: "ev-1", InstanceID: "mkt_1", License: "L2", Created: created}); err != nil || d.License != "L1" {
		t.Errorf("EnqueueDelivery again = %+v, %v; the first licence wins", d, err)
	}
	_, err = db.EnqueueDelivery(ctx, store.Delivery{EventID: "ev-2", InstanceID: "mkt_1", License: "L3", NextTry: created, Created: created.Add(time.Second)})
	must(t, err)
	due, err := db.DueDeliveries(ctx, created, 0)
	if err != nil || len(due) != 2 || due[0].EventID != "ev-1" {
		t.Fatalf("DueDeliveries = %+v, %v", due, err)
	}
	due[0].State, due[0].Sent, due[0].Attempts = store.OutboxSent, created.Add(time.Minute), 2
	due[1].Attempts, due[1].NextTry, due[1].Reason = 1, created.Add(time.Hour), "HTTP 503"
	must(t, db.SaveDelivery(ctx, due[0]))
	must(t, db.SaveDelivery(ctx, due[1]))
	if due, _ := db.DueDeliveries(ctx, created.Add(time.Minute), 0); len(due) != 0 {
		t.Errorf("due after saving = %+v; want none", due)
	}
	if d, err := db.Delivery(ctx, "ev-1"); err != nil || d.State != store.OutboxSent || d.Attempts != 2 || d.License != "L1" {
		t.Errorf("Delivery(ev-1) = %+v, %v", d, err)
	}
	if due, _ := db.DueDeliveries(ctx, created.Add(time.Hour), 0); len(due) != 1 || due[0].Reason != "HTTP 503" {
		t.Errorf("due an hour later = %+v", due)
	}
}

// TestLeasesAndMarks: a lease has one holder until it lapses, on every
// replica; marks keep a time.
func TestLeasesAndMarks(t *testing.T, b Backend) {
	dbs := replicas(t, b, 3)
	db := dbs[0]
	if m, err := db.OutboxMark(ctx, "usage"); err != nil || !m.IsZero() {
		t.Errorf("OutboxMark(unset) = %v, %v", m, err)
	}
	must(t, db.SetOutboxMark(ctx, "usage", created))
	must(t, db.SetOutboxMark(ctx, "usage", created.Add(time.Hour)))
	if m, err := dbs[1].OutboxMark(ctx, "usage"); err != nil || !m.Equal(created.Add(time.Hour)) {
		t.Errorf("OutboxMark = %v, %v", m, err)
	}
	must(t, db.SetOutboxMark(ctx, "seat|a", created))
	must(t, db.SetOutboxMark(ctx, "seat|b", created.Add(time.Second)))
	must(t, db.SetOutboxMark(ctx, "seatless", created))
	if ms, err := dbs[1].OutboxMarks(ctx, "seat|"); err != nil || len(ms) != 2 || !ms["seat|b"].Equal(created.Add(time.Second)) {
		t.Errorf("OutboxMarks(seat|) = %v, %v", ms, err)
	}
	must(t, db.DeleteOutboxMark(ctx, "seat|a"))
	must(t, db.DeleteOutboxMark(ctx, "seat|nothing"))
	if ms, err := db.OutboxMarks(ctx, "seat|"); err != nil || len(ms) != 1 {
		t.Errorf("after DeleteOutboxMark: %v, %v", ms, err)
	}
	if ms, err := db.OutboxMarks(ctx, "nope"); err != nil || ms == nil || len(ms) != 0 {
		t.Errorf("OutboxMarks(nope) = %#v, %v; want empty, non-nil", ms, err)
	}

	// Leases as UpdateLease keeps them (who may take one is the rule of
	// internal/server/lease).
	read := func(db store.Store, name string) (l store.Lease) {
		must(t, db.UpdateLease(ctx, name, func(got store.Lease) (store.Lease, bool) { l = got; return got, false }))
		return l
	}
	if l := read(db, "push"); l.Holder != "" || !l.Until.IsZero() {
		t.Errorf("a lease never taken: %+v", l)
	}
	until := created.Add(time.Minute)
	must(t, db.UpdateLease(ctx, "push", func(store.Lease) (store.Lease, bool) { return store.Lease{Holder: "a", Until: until}, true }))
	if l := read(dbs[1], "push"); l.Holder != "a" || !l.Until.Equal(until) {
		t.Errorf("lease on another replica: %+v", l)
	}
	if l := read(dbs[1], "other"); l.Holder != "" {
		t.Errorf("another name: %+v", l)
	}
	must(t, dbs[2].UpdateLease(ctx, "push", func(store.Lease) (store.Lease, bool) { return store.Lease{}, true }))
	if l := read(db, "push"); l.Holder != "" {
		t.Errorf("a forgotten lease: %+v", l)
	}
	// Transactions on one name run one after the other: of many that take
	// a free lease at once, one finds it free.
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			err := dbs[i%len(dbs)].UpdateLease(ctx, "push", func(l store.Lease) (store.Lease, bool) {
				if l.Holder != "" {
					return l, false
				}
				won.Add(1)
				return store.Lease{Holder: fmt.Sprintf("r%d", i), Until: until}, true
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d replicas found one free lease at once, want 1", won.Load())
	}
}
