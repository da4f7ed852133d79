package hostile_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// mktCaller is the marketplace (or someone who captured its calls)
// calling one iscd's production interface.
type mktCaller struct {
	t   *testing.T
	url string // the production interface
	key string // the access key; "" for an attacker
	hc  *http.Client
}

type mktResult struct {
	Status     int    // HTTP
	ResultCode string `json:"resultCode"`
	ResultMsg  string `json:"resultMsg"`
	InstanceID string `json:"instanceId"`
}

// mktCall is one signed call as the marketplace sends it: the query and
// the body, which an attacker can capture and send again.
type mktCall struct {
	sig, ts, nonce string
	body           []byte
}

func newMktCaller(t *testing.T, srv *servertest.Server) *mktCaller {
	t.Helper()
	env := map[string]string{}
	data, err := os.ReadFile(filepath.Join(srv.DataDir, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	if env["ISCD_MARKETPLACE_URL"] == "" || env["ISCD_MARKETPLACE_KEY"] == "" {
		t.Fatalf("dev.env has no marketplace URL or key")
	}
	return &mktCaller{t: t, url: env["ISCD_MARKETPLACE_URL"], key: env["ISCD_MARKETPLACE_KEY"],
		hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}}
}

// sign makes a call of body with this nonce, at now.
func (m *mktCaller) sign(nonce string, body any) mktCall {
	data, err := json.Marshal(body)
	if err != nil {
		m.t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	return mktCall{sig: marketplace.Sign(m.key, nonce, ts, data), ts: ts, nonce: nonce, body: data}
}

// send posts c as it is.
func (m *mktCaller) send(c mktCall) mktResult {
	m.t.Helper()
	q := url.Values{"signature": {c.sig}, "timestamp": {c.ts}, "nonce": {c.nonce}}
	resp, err := m.hc.Post(m.url+"?"+q.Encode(), "application/json", bytes.NewReader(c.body))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := mktResult{Status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		m.t.Fatalf("HTTP %s, reply not JSON: %v", resp.Status, err)
	}
	return r
}

// ok signs and sends body and fails the test unless it succeeds.
func (m *mktCaller) ok(nonce string, body any) mktResult {
	m.t.Helper()
	r := m.send(m.sign(nonce, body))
	if r.ResultCode != marketplace.ResultOK {
		m.t.Fatalf("%v: %+v", body, r)
	}
	return r
}

// licenseStatus is the licence's status as an operator sees it.
func licenseStatus(t *testing.T, srv *servertest.Server, id string) string {
	t.Helper()
	var l adminapi.LicenseDetail
	if err := srv.Admin().Do(context.Background(), "GET", "/licenses/"+id, nil, &l); err != nil {
		t.Fatal(err)
	}
	return l.License.Status
}

func mktNewInstance(m *mktCaller, name string) string {
	m.t.Helper()
	r := m.ok("new-"+name, map[string]any{"activity": "newInstance", "orderId": "ord-" + name, "orderLineId": "line-" + name,
		"businessId": "biz-" + name, "productId": "demo-cad", "quantity": 1,
		"expireTime": time.Now().AddDate(1, 0, 0).UTC().Format("20060102150405")})
	return r.InstanceID
}

func mktStatus(id, status string) map[string]any {
	return map[string]any{"activity": "updateInstanceStatus", "instanceId": id, "status": status}
}

// A captured UNFREEZE, replayed after a FREEZE with one '0' moved from the
// nonce's end to the timestamp's front: the canonical string, and so the
// signature, are the same. iscd refuses it (a timestamp with a leading
// zero is not canonical, and the signature was seen), and the licence
// stays frozen. The plain replay is refused too.
func TestMarketplaceShiftedNonceReplay(t *testing.T) {
	srv := servertest.Start(t)
	m := newMktCaller(t, srv)
	id := mktNewInstance(m, "shift")

	m.ok("freeze-1", mktStatus(id, "FREEZE"))
	unfreeze := m.sign("captured-unfreeze-0", mktStatus(id, "UNFREEZE"))
	if r := m.send(unfreeze); r.ResultCode != marketplace.ResultOK {
		t.Fatalf("UNFREEZE: %+v", r)
	}
	m.ok("freeze-2", mktStatus(id, "FREEZE"))
	if s := licenseStatus(t, srv, id); s != "FROZEN" {
		t.Fatalf("after FREEZE the licence is %s", s)
	}

	shifted := unfreeze
	shifted.nonce = strings.TrimSuffix(unfreeze.nonce, "0")
	shifted.ts = "0" + unfreeze.ts
	attacker := *m
	attacker.key = ""
	if r := attacker.send(shifted); r.ResultCode != marketplace.ResultAuth {
		t.Errorf("shifted replay answered %+v, want %s", r, marketplace.ResultAuth)
	}
	if r := attacker.send(unfreeze); r.ResultCode != marketplace.ResultAuth || !strings.Contains(r.ResultMsg, "replay") {
		t.Errorf("plain replay answered %+v, want %s (replay)", r, marketplace.ResultAuth)
	}
	if s := licenseStatus(t, srv, id); s != "FROZEN" {
		t.Fatalf("after the replays the licence is %s, want FROZEN", s)
	}
}

// A timestamp with leading zeros is refused even when signed with the
// right key: only one spelling of a time is accepted, so a signature
// cannot be re-split between nonce and timestamp. A sign or a space is
// refused too.
func TestMarketplaceNonCanonicalTimestamp(t *testing.T) {
	srv := servertest.Start(t)
	m := newMktCaller(t, srv)
	id := mktNewInstance(m, "canon")
	body, _ := json.Marshal(mktStatus(id, "FREEZE"))
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for _, ts := range []string{"0" + now, "00" + now, "+" + now, " " + now, now + " ", "-" + now, "0x" + now} {
		r := m.send(mktCall{sig: marketplace.Sign(m.key, "n-"+ts, ts, body), ts: ts, nonce: "n-" + ts, body: body})
		if r.ResultCode != marketplace.ResultAuth || !strings.Contains(r.ResultMsg, "timestamp") {
			t.Errorf("timestamp %q answered %+v, want %s (timestamp)", ts, r, marketplace.ResultAuth)
		}
	}
	if s := licenseStatus(t, srv, id); s != "ACTIVE" {
		t.Fatalf("the licence is %s after refused FREEZEs, want ACTIVE", s)
	}
	m.ok("n-canonical", mktStatus(id, "FREEZE")) // the same call, canonical
	if s := licenseStatus(t, srv, id); s != "FROZEN" {
		t.Fatalf("the licence is %s after a FREEZE, want FROZEN", s)
	}
}

// Two iscd replicas on one PostgreSQL database: a call answered by one and
// replayed to the other is refused there (the replay cache is in the
// store).
func TestMarketplaceReplayToAnotherReplica(t *testing.T) {
	dsn := pgtest.DSN(t) // skips, saying so, without PostgreSQL
	kek, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.ParseKeyring(kek) // the replicas share their key-encryption key
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Database: dsn, KEK: ring, Marketplace: marketplace.Config{Enabled: true, AccessKey: "replica-test-key"}, NoDevWorker: true}
	a := servertest.StartConfig(t, cfg)
	b := servertest.StartConfig(t, cfg)
	ma, mb := newMktCaller(t, a), newMktCaller(t, b)
	id := mktNewInstance(ma, "replicas")
	if s := licenseStatus(t, b, id); s != "ACTIVE" {
		t.Fatalf("replica b sees the licence %s", s)
	}

	ma.ok("freeze-a", mktStatus(id, "FREEZE"))
	unfreeze := ma.sign("unfreeze-a", mktStatus(id, "UNFREEZE"))
	if r := ma.send(unfreeze); r.ResultCode != marketplace.ResultOK {
		t.Fatalf("UNFREEZE on a: %+v", r)
	}
	ma.ok("freeze-a2", mktStatus(id, "FREEZE"))
	if r := mb.send(unfreeze); r.ResultCode != marketplace.ResultAuth || !strings.Contains(r.ResultMsg, "replay") {
		t.Errorf("the replay to replica b answered %+v, want %s (replay)", r, marketplace.ResultAuth)
	}
	if s := licenseStatus(t, b, id); s != "FROZEN" {
		t.Fatalf("after the replay the licence is %s, want FROZEN", s)
	}
}

// 150 callers send 1 MiB bodies and stall, and 150 more send bodies under
// the limit and stall: the large ones are refused at once (413), the
// small ones beyond the concurrency bound at once (503), and the rest are
// cut off by the read deadline. iscd, a process of its own, does not grow.
func TestMarketplaceStalledBodies(t *testing.T) {
	bin := limitsISCD(t)
	iscd, err := servertest.StartBinary(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iscd.Stop)
	target := iscd.Env["ISCD_MARKETPLACE_URL"]
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	before := readMemory(t, iscd.Pid)

	// stall opens a connection, sends headers and 1 KiB of a body of
	// length n, and returns the status line iscd answers (or the error
	// that ended the connection) and when.
	type outcome struct {
		status string
		after  time.Duration
	}
	stall := func(n int) outcome {
		start := time.Now()
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			return outcome{status: err.Error()}
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s?signature=00&timestamp=1&nonce=x HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, n)
		c.Write(bytes.Repeat([]byte(" "), 1<<10))
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return outcome{status: "read: " + err.Error(), after: time.Since(start)}
		}
		// The connection is closed after the answer: nothing is left open.
		io.Copy(io.Discard, c)
		return outcome{status: strings.TrimSpace(line), after: time.Since(start)}
	}
	run := func(n, count int) []outcome {
		out := make([]outcome, count)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() { out[i] = stall(n) })
		}
		wg.Wait()
		return out
	}

	for i, o := range run(1<<20, 150) {
		if !strings.Contains(o.status, "413") || o.after > 5*time.Second {
			t.Errorf("stalled 1 MiB body %d: %q after %v, want 413 at once", i, o.status, o.after)
		}
	}

	counts := map[string]int{}
	var slowest time.Duration
	for _, o := range run(60<<10, 150) {
		code, _, _ := strings.Cut(strings.TrimPrefix(o.status, "HTTP/1.1 "), " ")
		counts[code]++
		if code == "503" && o.after > 5*time.Second {
			t.Errorf("a call over the concurrency bound was answered after %v", o.after)
		}
		slowest = max(slowest, o.after)
	}
	t.Logf("stalled 60 KiB bodies: %v, the last answered after %v", counts, slowest)
	if counts["408"] != marketplace.DefaultMaxConcurrent || counts["503"] != 150-marketplace.DefaultMaxConcurrent {
		t.Errorf("answers %v, want %d × 408 (read deadline) and the rest 503", counts, marketplace.DefaultMaxConcurrent)
	}
	if slowest > marketplace.DefaultReadTimeout+5*time.Second {
		t.Errorf("a stalled body was held %v, past the %v read deadline", slowest, marketplace.DefaultReadTimeout)
	}

	after := readMemory(t, iscd.Pid)
	t.Logf("iscd memory: %s before, %s after (peak %s)", mib(before.rss), mib(after.rss), mib(after.hwm))
	if grew := after.hwm - before.rss; grew > 32<<20 {
		t.Errorf("iscd grew by %s (peak) with 300 stalled callers, want under 32 MiB", mib(grew))
	}
}
