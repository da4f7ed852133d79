package marketplace_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

const fp1 = "04:7C:16:5E:E3:5D|001B_444A|BOARD-1|BFEBFBFF00090672"

// sign is the marketplace's signature written out here, independently of
// the package: canonical = key + nonce + timestamp +
// lower(hex(HMAC-SHA256(key, body))); signature = hex(HMAC-SHA256(key, canonical)).
func sign(key, nonce, timestamp string, body []byte) string {
	inner := hmac.New(sha256.New, []byte(key))
	inner.Write(body)
	canonical := key + nonce + timestamp + strings.ToLower(hex.EncodeToString(inner.Sum(nil)))
	outer := hmac.New(sha256.New, []byte(key))
	outer.Write([]byte(canonical))
	return hex.EncodeToString(outer.Sum(nil))
}

// mkt is a marketplace calling one iscd.
type mkt struct {
	t   *testing.T
	srv *servertest.Server
	url string
	key string
	n   atomic.Int64
	hc  *http.Client
}

type result struct {
	ResultCode string `json:"resultCode"`
	ResultMsg  string `json:"resultMsg"`
	InstanceID string `json:"instanceId"`
	License    string `json:"license"`
}

func start(t *testing.T, cfg server.Config) *mkt {
	t.Helper()
	srv := servertest.StartConfig(t, cfg)
	env := readEnv(t, filepath.Join(srv.DataDir, "dev.env"))
	m := &mkt{t: t, srv: srv, url: env["ISCD_MARKETPLACE_URL"], key: env["ISCD_MARKETPLACE_KEY"],
		hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	if m.url == "" || m.key == "" {
		t.Fatalf("dev.env lacks the marketplace URL or key: %v", env)
	}
	return m
}

func readEnv(t *testing.T, path string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	return env
}

func (m *mkt) nonce() string { return fmt.Sprintf("%s-%d", m.t.Name(), m.n.Add(1)) }

func now() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

// post sends body with the given query and decodes the reply.
func (m *mkt) post(query string, body []byte) result {
	m.t.Helper()
	resp, err := m.hc.Post(m.url+"?"+query, "application/json", bytes.NewReader(body))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("HTTP %s", resp.Status)
	}
	var r result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		m.t.Fatal(err)
	}
	return r
}

func query(sig, ts, nonce string) string {
	return "signature=" + sig + "&timestamp=" + ts + "&nonce=" + nonce
}

// call signs body properly and posts it.
func (m *mkt) call(body any) result {
	m.t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		m.t.Fatal(err)
	}
	ts, nonce := now(), m.nonce()
	return m.post(query(sign(m.key, nonce, ts, data), ts, nonce), data)
}

// ok calls and fails the test unless the result is 000000.
func (m *mkt) ok(body any) result {
	m.t.Helper()
	r := m.call(body)
	if r.ResultCode != "000000" {
		m.t.Fatalf("%v: %+v", body, r)
	}
	return r
}

func (m *mkt) want(code string, body any) result {
	m.t.Helper()
	r := m.call(body)
	if r.ResultCode != code {
		m.t.Fatalf("%v: got %+v, want %s", body, r, code)
	}
	return r
}

func (m *mkt) license(id string) store.License {
	m.t.Helper()
	l, err := m.srv.Store().License(context.Background(), id)
	if err != nil {
		m.t.Fatal(err)
	}
	return l
}

type obj = map[string]any

func mtime(t time.Time) string { return t.UTC().Format("20060102150405") }

func order(n string) obj {
	return obj{"activity": "newInstance", "orderId": "ord-" + n, "orderLineId": "line-" + n, "businessId": "biz-" + n + "-" + now(),
		"productId": "demo-cad", "quantity": 3, "expireTime": mtime(time.Now().AddDate(2, 0, 0))}
}

func TestSignatureVector(t *testing.T) {
	body := []byte(`{"activity":"newInstance","orderId":"o-1","orderLineId":"ol-1","businessId":"b-1"}`)
	// Computed with Python's hmac module, outside Go.
	const want = "4116e9bb79b8183e34d224ce92a044da29aa92f7c87c0f46a624b82ecd21cb09"
	if got := sign("test-access-key", "n0nce", "1767225600000", body); got != want {
		t.Fatalf("test's own signature %s, want %s", got, want)
	}
	if got := marketplace.Sign("test-access-key", "n0nce", "1767225600000", body); got != want {
		t.Fatalf("marketplace.Sign %s, want %s", got, want)
	}
}

func TestAuthentication(t *testing.T) {
	var logs syncBuffer
	m := start(t, server.Config{Logger: slogTo(&logs)})
	body, _ := json.Marshal(order("auth"))
	good := func(ts, nonce string) string { return query(sign(m.key, nonce, ts, body), ts, nonce) }

	if r := m.post(good(now(), "n-ok"), body); r.ResultCode != "000000" || r.InstanceID == "" {
		t.Fatalf("signed call: %+v", r)
	}
	secs := strconv.FormatInt(time.Now().Unix(), 10)
	if r := m.post(good(secs, "n-seconds"), body); r.ResultCode != "000000" {
		t.Fatalf("timestamp in seconds: %+v", r)
	}
	ts := now()
	upper := query(strings.ToUpper(sign(m.key, "n-upper", ts, body)), ts, "n-upper")
	if r := m.post(upper, body); r.ResultCode != "000000" {
		t.Fatalf("upper-case hex: %+v", r)
	}

	tampered := bytes.Replace(body, []byte(`"quantity":3`), []byte(`"quantity":9`), 1)
	ts = now()
	for name, q := range map[string]struct {
		query string
		body  []byte
	}{
		"tampered body":   {good(ts, "n-tamper"), tampered},
		"wrong key":       {query(sign("not-the-key", "n-key", ts, body), ts, "n-key"), body},
		"stale timestamp": {good(strconv.FormatInt(time.Now().Add(-61*time.Second).UnixMilli(), 10), "n-stale"), body},
		"future":          {good(strconv.FormatInt(time.Now().Add(90*time.Second).UnixMilli(), 10), "n-future"), body},
		"leading zero":    {good("0"+ts, "n-zero"), body},
		"signed number":   {query(sign(m.key, "n-plus", "+"+ts, body), url.QueryEscape("+"+ts), "n-plus"), body},
		"space":           {query(sign(m.key, "n-space", " "+ts, body), url.QueryEscape(" "+ts), "n-space"), body},
		"no signature":    {"timestamp=" + ts + "&nonce=n-nosig", body},
		"no nonce":        {"signature=" + sign(m.key, "", ts, body) + "&timestamp=" + ts, body},
		"bad timestamp":   {good("yesterday", "n-ts"), body},
		"not hex":         {query("zz"+sign(m.key, "n-hex", ts, body)[2:], ts, "n-hex"), body},
	} {
		if r := m.post(q.query, q.body); r.ResultCode != "000001" {
			t.Errorf("%s: %+v, want 000001", name, r)
		}
	}
	// The very same request again, within the window: a replay.
	q := good(now(), "n-twice")
	if r := m.post(q, body); r.ResultCode != "000000" {
		t.Fatalf("first: %+v", r)
	}
	if r := m.post(q, body); r.ResultCode != "000001" || !strings.Contains(r.ResultMsg, "replay") {
		t.Fatalf("replay: %+v", r)
	}
	// Over 64 KiB: 413, refused before the signature is checked.
	big := append(bytes.Repeat([]byte(" "), marketplace.MaxBody), body...)
	ts = now()
	resp, err := m.hc.Post(m.url+"?"+query(sign(m.key, "n-big", ts, big), ts, "n-big"), "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	var r result
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || err != nil || r.ResultCode != "000001" {
		t.Fatalf("body over 64 KiB: %s %+v %v", resp.Status, r, err)
	}
	// Not POST.
	resp, err = m.hc.Get(m.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %s", resp.Status)
	}
	if strings.Contains(logs.String(), m.key) {
		t.Fatal("the access key was logged")
	}
	if !strings.Contains(logs.String(), "marketplace endpoint") {
		t.Fatalf("no startup log line:\n%s", logs.String())
	}
}

func TestMissingFields(t *testing.T) {
	m := start(t, server.Config{})
	for _, body := range []obj{
		{},
		{"activity": "rebootEverything"},
		{"activity": "newInstance", "orderLineId": "l", "businessId": "b"},
		{"activity": "newInstance", "orderId": "o", "businessId": "b"},
		{"activity": "newInstance", "orderId": "o", "orderLineId": "l"},
		{"activity": "newInstance", "orderId": "o", "orderLineId": "l", "businessId": "b", "quantity": 0},
		{"activity": "newInstance", "orderId": "o", "orderLineId": "l", "businessId": "b", "quantity": "many"},
		{"activity": "newInstance", "orderId": "o", "orderLineId": "l", "businessId": "b", "expireTime": "2030-01-01"},
		{"activity": "newInstance", "orderId": "o", "orderLineId": "l", "businessId": "b", "customerId": "../etc"},
		{"activity": "newInstance", "orderId": strings.Repeat("o", 300), "orderLineId": "l", "businessId": "b"},
		{"activity": "refreshInstance", "instanceId": "i", "orderId": "o"},
		{"activity": "refreshInstance", "orderId": "o", "scene": "RENEWAL"},
		{"activity": "updateInstanceStatus", "instanceId": "i"},
		{"activity": "updateInstanceStatus", "status": "FREEZE"},
		{"activity": "releaseInstance"},
		{"activity": "upgradeInstance", "instanceId": "i", "orderId": "o"},
		{"activity": "getLicenseAsync", "effectiveTime": "20260101000000", "expireTime": "20270101000000", "eventId": "e"},
		{"activity": "getLicenseAsync", "instanceId": "i", "effectiveTime": "20260101000000", "expireTime": "20270101000000"},
		{"activity": "getLicenseAsync", "instanceId": "i", "eventId": "e", "effectiveTime": "20260101000000", "expireTime": "20270101000000",
			"deviceFingerprint": strings.Repeat("A", 1025)},
		{"activity": "refreshLicenseCode", "orderId": "o", "scene": "RENEWAL"},
		{"activity": "updateLicenseCodeStatus", "license": "code"},
		{"activity": "releaseLicenseCode"},
	} {
		m.want("000002", body)
	}
	// Period billing without the period.
	m.want("000902", obj{"activity": "getLicenseAsync", "instanceId": "i", "eventId": "e", "effectiveTime": "20260101000000"})
	m.want("000902", obj{"activity": "getLicenseAsync", "instanceId": "i", "eventId": "e", "expireTime": "20270101000000"})
	// Signed but not JSON.
	data := []byte("not json")
	ts, nonce := now(), m.nonce()
	if r := m.post(query(sign(m.key, nonce, ts, data), ts, nonce), data); r.ResultCode != "000002" {
		t.Fatalf("not JSON: %+v", r)
	}
}

func TestUnknownInstance(t *testing.T) {
	m := start(t, server.Config{})
	id := marketplace.InstanceID("never", "ordered")
	for _, body := range []obj{
		{"activity": "refreshInstance", "instanceId": id, "orderId": "o", "scene": "RENEWAL", "expireTime": "20300101000000"},
		{"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"},
		{"activity": "releaseInstance", "instanceId": id},
		{"activity": "upgradeInstance", "instanceId": id, "orderId": "o", "orderLineId": "l", "quantity": 2},
		{"activity": "getLicenseAsync", "instanceId": id, "eventId": "e1", "effectiveTime": "20260101000000", "expireTime": "20270101000000"},
		{"activity": "refreshLicenseCode", "license": "CODE-1", "orderId": "never", "orderLineId": "x", "scene": "RENEWAL", "expireTime": "20300101000000"},
		{"activity": "updateLicenseCodeStatus", "license": "CODE-1", "status": "FREEZE"},
		{"activity": "releaseLicenseCode", "license": "CODE-1"},
	} {
		m.want("000003", body)
	}
}

func TestIdempotentRetries(t *testing.T) {
	m := start(t, server.Config{})
	first := m.ok(order("7"))
	again := order("7") // a retry carries a new businessId
	if r := m.ok(again); r.InstanceID != first.InstanceID {
		t.Fatalf("retry gave instance %s, first %s", r.InstanceID, first.InstanceID)
	}
	if other := m.ok(order("8")); other.InstanceID == first.InstanceID {
		t.Fatal("another order line got the same instance")
	}
	ls, err := m.srv.Store().Licenses(context.Background(), server.DevOrg, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range ls {
		if l.InstanceID == first.InstanceID {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d licences for one order line", n)
	}

	// Concurrent retries of one new order line still make one instance.
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Go(func() { ids[i] = m.call(order("9")).InstanceID })
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("concurrent newInstance: %q", ids)
		}
	}

	get := obj{"activity": "getLicenseAsync", "instanceId": first.InstanceID, "eventId": "ev-1",
		"effectiveTime": mtime(time.Now()), "expireTime": mtime(time.Now().AddDate(1, 0, 0)), "deviceFingerprint": fp1}
	l1 := m.ok(get).License
	l2 := m.ok(get).License
	if l1 == "" || l1 != l2 {
		t.Fatalf("getLicenseAsync retry gave another licence:\n%s\n%s", l1, l2)
	}
	get["instanceId"] = ids[0]
	m.want("000002", get) // one eventId, another instance

	renew := obj{"activity": "refreshInstance", "instanceId": first.InstanceID, "orderId": "ord-r1", "scene": "RENEWAL",
		"expireTime": mtime(time.Now().AddDate(3, 0, 0))}
	m.ok(renew)
	m.ok(renew)
	in, err := m.srv.Store().Instance(context.Background(), first.InstanceID)
	if err != nil || len(in.Renewals) != 1 {
		t.Fatalf("renewal retried: %+v, %v", in, err)
	}
	unsub := obj{"activity": "refreshInstance", "instanceId": first.InstanceID, "orderId": "ord-r1", "scene": "UNSUBSCRIBE_RENEWAL_PERIOD"}
	m.ok(unsub)
	m.ok(unsub)
	if l := m.license(first.InstanceID); !l.ExpiresAt.Equal(in.Renewals[0].Previous) {
		t.Fatalf("after a retried refund expiry is %v, want %v", l.ExpiresAt, in.Renewals[0].Previous)
	}
	freeze := obj{"activity": "updateInstanceStatus", "instanceId": first.InstanceID, "status": "FREEZE"}
	m.ok(freeze)
	m.ok(freeze)
	release := obj{"activity": "releaseInstance", "instanceId": first.InstanceID}
	m.ok(release)
	m.ok(release)
}

func TestTrialUpgradeAndCustomerOrg(t *testing.T) {
	m := start(t, server.Config{})
	o := order("t")
	o["customerId"], o["customerName"], o["trialFlag"], o["skuCode"], o["testFlag"] = "cust42", "Acme GmbH", "1", "standard", 1
	o["quantity"], o["amount"] = nil, "2"
	delete(o, "productId") // the configured default product
	id := m.ok(o).InstanceID
	l := m.license(id)
	if l.OrgID != "mkt-cust42" || l.ProductID != server.DevProduct || !l.Trial || l.Edition != "standard" || l.Seats != 2 ||
		l.OrderID != "ord-t" || l.OrderLineID != "line-t" || l.InstanceID != id {
		t.Fatalf("licence %+v", l)
	}
	org, err := m.srv.Store().Org(context.Background(), "mkt-cust42")
	if err != nil || org.Name != "Acme GmbH" {
		t.Fatalf("org %+v, %v", org, err)
	}
	if in, _ := m.srv.Store().Instance(context.Background(), id); !in.Test {
		t.Fatal("testFlag not recorded")
	}
	paid := time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Second)
	m.ok(obj{"activity": "refreshInstance", "instanceId": id, "orderId": "ord-t2", "orderLineId": "line-t2", "scene": "TRIAL_TO_FORMAL",
		"expireTime": mtime(paid), "skuCode": "professional"})
	if l := m.license(id); l.Trial || !l.ExpiresAt.Equal(paid) || l.Edition != "professional" {
		t.Fatalf("after TRIAL_TO_FORMAL %+v", l)
	}
	m.want("000902", obj{"activity": "refreshInstance", "instanceId": id, "orderId": "o", "scene": "RENEWAL"})
	m.want("000002", obj{"activity": "refreshInstance", "instanceId": id, "orderId": "o", "scene": "SOMETHING", "expireTime": mtime(paid)})
	m.ok(obj{"activity": "upgradeInstance", "instanceId": id, "orderId": "ord-up", "orderLineId": "line-up", "quantity": "10", "skuCode": "enterprise"})
	if l := m.license(id); l.Seats != 10 || l.Edition != "enterprise" || l.OrderID != "ord-up" {
		t.Fatalf("after upgrade %+v", l)
	}
	var audit []store.AuditEntry
	if err := m.srv.Admin().Do(context.Background(), "GET", "/licenses/"+id+"/audit", nil, &audit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(audit), "(test call)") {
		t.Fatalf("test call not marked in the audit: %+v", audit)
	}
}

func TestLicenseCodes(t *testing.T) {
	m := start(t, server.Config{})
	id := m.ok(order("c")).InstanceID
	code := m.ok(obj{"activity": "getLicenseAsync", "instanceId": id, "eventId": "ev-c",
		"effectiveTime": mtime(time.Now()), "expireTime": mtime(time.Now().AddDate(1, 0, 0))}).License
	if l := m.license(id); !strings.HasPrefix(l.LicenseCode, "sha256:") {
		t.Fatalf("LicenseCode %q", l.LicenseCode)
	}
	m.ok(obj{"activity": "updateLicenseCodeStatus", "license": code, "status": "FREEZE"})
	if l := m.license(id); l.Status != store.StatusFrozen {
		t.Fatalf("status %s", l.Status)
	}
	m.want("000002", obj{"activity": "updateLicenseCodeStatus", "license": code, "status": "PAUSE"})
	m.ok(obj{"activity": "updateLicenseCodeStatus", "license": code, "status": "UNFREEZE"})
	later := time.Now().AddDate(2, 0, 0).UTC().Truncate(time.Second)
	m.ok(obj{"activity": "refreshLicenseCode", "license": code, "orderId": "ord-c2", "orderLineId": "line-c2", "scene": "RENEWAL", "expireTime": mtime(later)})
	if l := m.license(id); !l.ExpiresAt.Equal(later) || l.Status != store.StatusActive {
		t.Fatalf("after refreshLicenseCode %+v", l)
	}
	// A code iscd never issued is bound by its order line.
	m.ok(obj{"activity": "refreshLicenseCode", "license": "VENDOR-CODE-1", "orderId": "ord-c", "orderLineId": "line-c", "scene": "RENEWAL", "expireTime": mtime(later)})
	if l := m.license(id); l.LicenseCode != "VENDOR-CODE-1" {
		t.Fatalf("LicenseCode %q", l.LicenseCode)
	}
	m.ok(obj{"activity": "releaseLicenseCode", "license": "VENDOR-CODE-1"})
	m.ok(obj{"activity": "releaseLicenseCode", "license": code})
	if l := m.license(id); l.Status != store.StatusReleased {
		t.Fatalf("status %s", l.Status)
	}
	m.want("000003", obj{"activity": "updateLicenseCodeStatus", "license": code, "status": "UNFREEZE"})
}

// TestLifecycle follows one order line from purchase to release while a
// program runs on the customer's desktop.
func TestLifecycle(t *testing.T) {
	t.Setenv("ISCSDK_WORKSPACE", t.TempDir())
	m := start(t, server.Config{})
	ctx := context.Background()

	c, err := sdk.Init(ctx, sdk.Config{Endpoint: m.srv.Endpoint, Token: m.srv.APIToken, ProductID: m.srv.Product,
		AppVersion: "1.0", WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reqID, err := sdk.NewDesk(c).GetLicenseStringRequest(fp1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseVerify && e.RequestID == reqID }); e.Params["Status"] != "success" {
		t.Fatalf("licence request: %v", e.Params)
	}

	// newInstance: no customerId, so the licence goes to the configured
	// default org, the dev org the program's user belongs to.
	id := m.ok(order("life")).InstanceID
	if l := m.license(id); l.OrgID != server.DevOrg || l.Status != store.StatusActive || l.Seats != 3 {
		t.Fatalf("licence %+v", l)
	}

	// getLicenseAsync: an offline licence for the device and the period.
	from, until := time.Now().UTC().Truncate(time.Second), time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Second)
	str := m.ok(obj{"activity": "getLicenseAsync", "instanceId": id, "eventId": "ev-life", "deviceFingerprint": fp1,
		"effectiveTime": mtime(from), "expireTime": mtime(until)}).License
	var pub adminapi.PublicKeys
	if err := m.srv.Admin().Do(ctx, "GET", "/products/"+server.DevProduct+"/keys", nil, &pub); err != nil {
		t.Fatal(err)
	}
	keys, err := license.ParsePublicKeys(strings.Join(pub.Keys, ","))
	if err != nil {
		t.Fatal(err)
	}
	res := license.Verify(str, keys, fp1, time.Now())
	if !res.Valid || res.LicenseID != id || res.Product != server.DevProduct || !res.ExpiresAt.Equal(until) || !res.EffectiveAt.Equal(from) {
		t.Fatalf("offline verify: %+v", res)
	}
	if res := license.Verify(str, keys, "AA:AA:AA:AA:AA:AA|OTHER|BOARD-2|CPU2", time.Now()); res.Code != license.CodeWrongDevice {
		t.Fatalf("another device: %+v", res)
	}

	// refreshInstance RENEWAL: a new expiry.
	renewed := time.Now().AddDate(3, 0, 0).UTC().Truncate(time.Second)
	m.ok(obj{"activity": "refreshInstance", "instanceId": id, "orderId": "ord-life-r", "orderLineId": "line-life-r", "scene": "RENEWAL", "expireTime": mtime(renewed)})
	if l := m.license(id); !l.ExpiresAt.Equal(renewed) {
		t.Fatalf("renewed to %v, want %v", l.ExpiresAt, renewed)
	}

	// FREEZE: the running program is told; the licence and its data stay.
	m.ok(obj{"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})
	e := next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseState && e.Params["licenseId"] == id })
	if e.Params["state"] != "frozen" {
		t.Fatalf("after FREEZE: %v", e.Params)
	}
	if l := m.license(id); l.Status != store.StatusFrozen || !l.ExpiresAt.Equal(renewed) || l.Seats != 3 || l.OrderID != "ord-life" {
		t.Fatalf("frozen licence %+v", l)
	}
	if l, err := m.srv.Store().MarketLicense(ctx, "ev-life"); err != nil || l.License != str {
		t.Fatalf("issued licence lost by the freeze: %v", err)
	}
	m.want("000901", obj{"activity": "getLicenseAsync", "instanceId": id, "eventId": "ev-frozen", "effectiveTime": mtime(from), "expireTime": mtime(until)})

	m.ok(obj{"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"})
	e = next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseState && e.Params["licenseId"] == id })
	if e.Params["state"] != "unfrozen" {
		t.Fatalf("after UNFREEZE: %v", e.Params)
	}

	m.ok(obj{"activity": "releaseInstance", "instanceId": id, "orderId": "ord-life", "orderLineId": "line-life"})
	e = next(t, c, func(e sdk.Event) bool { return e.Type == sdk.EventLicenseState && e.Params["licenseId"] == id })
	if e.Params["state"] != "released" {
		t.Fatalf("after release: %v", e.Params)
	}
	if l := m.license(id); l.Status != store.StatusReleased {
		t.Fatalf("released licence %+v", l)
	}
	m.want("000003", obj{"activity": "updateInstanceStatus", "instanceId": id, "status": "UNFREEZE"})
	// The eventId still answers with the licence it gave.
	if r := m.ok(obj{"activity": "getLicenseAsync", "instanceId": id, "eventId": "ev-life", "effectiveTime": mtime(from), "expireTime": mtime(until)}); r.License != str {
		t.Fatal("retry after release gave another licence")
	}
}

func TestDisabledWithoutKey(t *testing.T) {
	_, addr, stop := servertest.Serve(t, server.Config{DataDir: t.TempDir()})
	defer stop()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Post("http://"+addr+marketplace.Path, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("endpoint without a key: %s, want 404", resp.Status)
	}
	if _, err := server.Open(server.Config{DataDir: t.TempDir(), Marketplace: marketplace.Config{Enabled: true}}); err == nil {
		t.Fatal("enabled without a key: no error")
	}
	cfg := marketplace.Config{Enabled: true, AccessKey: "s3cret-key"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("key printed: %s", s)
		}
	}
}

// next polls the client for the next event accepted by keep.
func next(t *testing.T, c *sdk.Client, keep func(sdk.Event) bool) sdk.Event {
	t.Helper()
	return servertest.NextEvent(t, c, keep)
}

// syncBuffer is a bytes.Buffer for a logger used by several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
