package marketplace_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/appinfo"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

// outbound starts iscd calling a test marketplace: orders checked,
// licences delivered asynchronously, appInfo answered.
func outbound(t *testing.T, encryptType string) (*mkt, *markettest.Server) {
	t.Helper()
	market := markettest.Start(t, "ak", "sk", "uk")
	cfg := server.Config{
		MarketAPI: server.MarketAPI{
			API:  marketapi.Config{BaseURL: market.URL, Key: aksk.Key{Access: "ak", Secret: "sk"}, UsageKey: "uk", Timeout: 2 * time.Second},
			Push: marketpush.Config{Interval: time.Hour, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
			// Interval: an hour, so that only kicks push: each delivery
			// attempt follows a call or a retry, in order.
			CheckOrders: true, AsyncLicenses: true, Editions: map[string]string{"gold": "enterprise"},
		},
	}
	cfg.Marketplace.Outbound.AppInfo = marketplace.AppInfo{FrontEndURL: "https://console.example/login", AdminURL: "https://console.example/admin", EncryptType: encryptType}
	return start(t, cfg), market
}

// raw signs and posts body and decodes the whole reply.
func (m *mkt) raw(body any) map[string]any {
	m.t.Helper()
	data, _ := json.Marshal(body)
	ts, nonce := now(), m.nonce()
	resp, err := m.hc.Post(m.url+"?"+query(sign(m.key, nonce, ts, data), ts, nonce), "application/json", bytes.NewReader(data))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		m.t.Fatal(err)
	}
	return out
}

func mockNew(id string, extra obj) obj {
	o := obj{"activity": "newInstance", "orderId": id, "orderLineId": id + "-000001", "businessId": "b-" + id + now(),
		"customerId": "mockcustomer", "productId": "demo-cad", "skuCode": "mock-sku", "testFlag": "1"}
	mo, _ := markettest.MockOrder(id)
	if mo.OrderType == "TRIAL" {
		o["trialFlag"] = "1"
	}
	if e := mo.OrderLine[0].ExpireTime; e != "" {
		o["expireTime"] = e
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// Every mock order id passes the order check; a call that contradicts its
// order is refused with 000002 and creates nothing; a marketplace that
// cannot answer gives 000005 (the marketplace retries).
func TestOrdersChecked(t *testing.T) {
	m, market := outbound(t, "")
	for _, id := range markettest.MockOrders {
		r := m.raw(mockNew(id, nil))
		if r["resultCode"] != "000000" || r["instanceId"] != marketplace.InstanceID(id, id+"-000001") {
			t.Errorf("%s: %v", id, r)
		}
	}
	if l := m.license(marketplace.InstanceID("MOCKPERIODDAYTRIAL", "MOCKPERIODDAYTRIAL-000001")); !l.Trial || l.Edition != "mock-sku" {
		t.Errorf("trial mock order's licence = %+v", l)
	}
	// A period order's expiry and SKU's edition are the licence's when
	// the call leaves them out.
	market.AddOrder(marketapi.Order{OrderID: "ORD-P", OrderType: "NEW", OrderLine: []marketapi.OrderLine{{OrderLineID: "ORD-P-1",
		ChargingMode: "PERIOD", PeriodType: "year", PeriodNumber: 1, ExpireTime: "20980601000000",
		ProductInfo: []marketapi.ProductInfo{{ProductID: "p", SKUCode: "gold"}}}}})
	if r := m.raw(obj{"activity": "newInstance", "orderId": "ORD-P", "orderLineId": "ORD-P-1", "businessId": "b-p", "productId": "demo-cad"}); r["resultCode"] != "000000" {
		t.Errorf("newInstance without expireTime: %v", r)
	} else if l := m.license(marketplace.InstanceID("ORD-P", "ORD-P-1")); l.ExpiresAt.Format("20060102150405") != "20980601000000" || l.Edition != "enterprise" {
		t.Errorf("licence expires %v, edition %q; want the order's 20980601000000 and SKU gold's edition enterprise", l.ExpiresAt, l.Edition)
	}
	// The charging mode is kept: ON_DEMAND seats are metered.
	if in, err := m.srv.Store().Instance(t.Context(), marketplace.InstanceID("MOCKONDEMAND", "MOCKONDEMAND-000001")); err != nil || in.ChargingMode != "ON_DEMAND" {
		t.Errorf("MOCKONDEMAND's instance = %+v, %v", in, err)
	}
	for name, c := range map[string]obj{
		"sku":       mockNew("MOCKPERIODYEARNEW", obj{"orderLineId": "MOCKPERIODYEARNEW-000001", "skuCode": "other-sku"}),
		"trial":     mockNew("MOCKONETIMENEW", obj{"trialFlag": "1"}),
		"expiry":    mockNew("MOCKPERIODYEARNEW", obj{"expireTime": "20980101000000"}),
		"line":      mockNew("MOCKONDEMAND", obj{"orderLineId": "MOCKONDEMAND-000009"}),
		"no order":  mockNew("MOCKONDEMAND", obj{"orderId": "NOSUCHORDER", "orderLineId": "NOSUCHORDER-1"}),
		"trial off": mockNew("MOCKPERIODDAYTRIAL", obj{"trialFlag": "0", "orderLineId": "MOCKPERIODDAYTRIAL-000001"}),
	} {
		r := m.raw(c)
		if r["resultCode"] != "000002" || !strings.Contains(r["resultMsg"].(string), c["orderId"].(string)) {
			t.Errorf("%s: %v; want 000002 naming the order", name, r)
		}
	}
	// A refresh contradicting its order: a renewal of a pay-per-use line.
	od := marketplace.InstanceID("MOCKONDEMAND", "MOCKONDEMAND-000001")
	if r := m.raw(obj{"activity": "refreshInstance", "instanceId": od, "orderId": "MOCKONDEMAND", "orderLineId": "MOCKONDEMAND-000001",
		"scene": "RENEWAL", "expireTime": "20991231160000"}); r["resultCode"] != "000002" {
		t.Errorf("renewal of an ON_DEMAND order: %v", r)
	}
	market.Script(marketapi.OrderPath, markettest.Answer{Status: 503, Code: "APIGW.0503"})
	if r := m.raw(mockNew("MOCKMONTYRENEW", obj{"orderLineId": "MOCKMONTYRENEW-000001"})); r["resultCode"] != "000005" {
		t.Errorf("order query unavailable: %v; want 000005", r)
	}
}

// getLicenseAsync answers 000004, and the licence reaches the
// marketplace — after an outage that refuses and times out its first
// deliveries. A retried call then gets the very licence delivered.
func TestAsyncLicenseDelivery(t *testing.T) {
	m, market := outbound(t, "")
	id := m.raw(mockNew("MOCKPERIODYEARNEW", nil))["instanceId"].(string)
	market.Script(marketapi.DeliveryPath,
		markettest.Answer{Status: 503, Code: "APIGW.0503"},
		markettest.Answer{Code: "MKT.0999"},
		markettest.Answer{Hang: true})
	call := obj{"activity": "getLicenseAsync", "instanceId": id, "eventId": "ev-async-1",
		"effectiveTime": mtime(time.Now()), "expireTime": mtime(time.Now().AddDate(1, 0, 0))}
	if r := m.raw(call); r["resultCode"] != "000004" || r["license"] != nil {
		t.Fatalf("getLicenseAsync = %v; want 000004 without the licence", r)
	}
	// Until iscd has the marketplace's acceptance (it is recorded there
	// before the answer reaches iscd).
	var d store.Delivery
	waitFor(t, 30*time.Second, func() bool {
		var err error
		d, err = m.srv.Store().Delivery(t.Context(), "ev-async-1")
		return err == nil && d.State == store.OutboxSent
	})
	got, ok := market.Delivered("ev-async-1")
	if !ok || got.InstanceID != id || !strings.HasPrefix(got.License, "ISL1.") || got.License != d.License {
		t.Fatalf("delivered %+v", got)
	}
	if d.Attempts != 4 {
		t.Errorf("delivery = %+v; want sent at the 4th attempt (503, 0999, a timeout, then accepted)", d)
	}
	r := m.raw(call)
	if r["resultCode"] != "000000" || r["license"] != got.License {
		t.Errorf("retry after delivery = %v; want 000000 and the delivered licence", r)
	}
}

// newInstance's appInfo decrypts (both encryptTypes) to the first admin
// and a secret that signs that admin in once.
func TestAppInfo(t *testing.T) {
	for _, typ := range []string{appinfo.AES256, appinfo.AES128} {
		t.Run("encryptType "+typ, func(t *testing.T) {
			m, _ := outbound(t, typ)
			r := m.raw(mockNew("MOCKONDEMAND", nil))
			info, _ := r["appInfo"].(map[string]any)
			if r["resultCode"] != "000000" || r["encryptType"] != typ || info == nil || info["frontEndUrl"] != "https://console.example/login" {
				t.Fatalf("newInstance = %v", r)
			}
			user, err := appinfo.Decrypt(m.key, typ, info["userName"].(string))
			if err != nil {
				t.Fatal(err)
			}
			pass, err := appinfo.Decrypt(m.key, typ, info["password"].(string))
			if err != nil || !strings.HasPrefix(pass, "isv_") {
				t.Fatalf("password %q, %v", pass, err)
			}
			if _, err := appinfo.Decrypt(m.key, map[string]string{"1": "2", "2": "1"}[typ], info["password"].(string)); err == nil {
				t.Error("decrypted with the other encryptType's key")
			}
			base := strings.TrimSuffix(m.url, marketplace.Path)
			activate := func(u, p string) (int, map[string]string) {
				body, _ := json.Marshal(map[string]string{"userName": u, "password": p})
				resp, err := http.Post(base+marketplace.ActivatePath, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				out := map[string]string{}
				json.NewDecoder(resp.Body).Decode(&out)
				return resp.StatusCode, out
			}
			if code, _ := activate("someone-else", pass); code != http.StatusUnauthorized {
				t.Errorf("another user with the secret: HTTP %d", code)
			}
			code, out := activate(user, pass)
			if code != http.StatusOK || !strings.HasPrefix(out["token"], "isk_") {
				t.Fatalf("activation: HTTP %d %v", code, out)
			}
			if code, _ := activate(user, pass); code != http.StatusUnauthorized {
				t.Errorf("the secret worked twice: HTTP %d", code)
			}
			// The token is the admin's: it opens a session (and a made-up
			// one does not).
			session := func(tok string) error {
				c, err := sdk.Init(t.Context(), sdk.Config{Endpoint: m.srv.Endpoint, Token: tok, ProductID: m.srv.Product,
					WorkspaceDir: t.TempDir(), ConnectTimeout: 5 * time.Second, CredentialsFile: filepath.Join(t.TempDir(), "none")})
				if err == nil {
					c.Close()
				}
				return err
			}
			if err := session(out["token"]); err != nil {
				t.Errorf("session with the activated token: %v", err)
			}
			if err := session(out["token"] + "x"); err == nil {
				t.Error("a session with a wrong token opened")
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %v", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
