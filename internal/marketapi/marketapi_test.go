package marketapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/marketapi/markettest"
)

var ctx = context.Background()

func client(t *testing.T, base, ak, sk, usageKey string) *marketapi.Client {
	t.Helper()
	c, err := marketapi.New(marketapi.Config{BaseURL: base, Key: aksk.Key{Access: ak, Secret: sk}, UsageKey: usageKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rec(sn string) marketapi.UsageRecord {
	return marketapi.UsageRecord{InstanceID: "mkt_1", RecordTime: "20261205T120000Z", BeginTime: "20261205T110000Z",
		EndTime: "20261205T120000Z", UsageValue: 1.23456, MeteringSN: sn}
}

// Both signatures pass the test marketplace's own checks; a wrong key
// fails each with its code.
func TestSignedCalls(t *testing.T) {
	mkt := markettest.Start(t, "ak", "sk", "uk")
	if err := client(t, mkt.URL, "ak", "sk", "uk").PushUsage(ctx, []marketapi.UsageRecord{rec("a"), rec("b")}); err != nil {
		t.Fatalf("push: %v (failures %v)", err, mkt.Failures())
	}
	if b := mkt.Billed(); len(b) != 2 || b["a"].UsageValue != 1.2346 {
		t.Errorf("billed = %+v; want a and b, the value rounded to 4 decimals", b)
	}
	var e *marketapi.Error
	err := client(t, mkt.URL, "ak", "wrong", "uk").PushUsage(ctx, []marketapi.UsageRecord{rec("c")})
	if !errors.As(err, &e) || e.Code != "APIGW.0301" {
		t.Errorf("wrong SK: %v, want APIGW.0301", err)
	}
	err = client(t, mkt.URL, "ak", "sk", "wrong").PushUsage(ctx, []marketapi.UsageRecord{rec("c")})
	if !errors.As(err, &e) || e.Code != marketapi.CodeBodySig {
		t.Errorf("wrong usage key: %v, want %s", err, marketapi.CodeBodySig)
	}
	if _, ok := mkt.Billed()["c"]; ok {
		t.Error("a push with a bad signature was billed")
	}
	var many []marketapi.UsageRecord
	for i := range 1001 {
		many = append(many, rec(fmt.Sprint(i)))
	}
	if err := client(t, mkt.URL, "ak", "sk", "uk").PushUsage(ctx, many); err == nil {
		t.Error("1001 records in one push accepted by the client")
	}
	cfg := marketapi.Config{Key: aksk.Key{Access: "ak", Secret: "top-secret"}}
	if strings.Contains(cfg.String(), "top-secret") || strings.Contains(fmt.Sprintf("%v %+v %#v", cfg, cfg.Key, cfg.Key), "top-secret") {
		t.Error("the config prints its secret")
	}
}

// The order query answers the mock ids as the marketplace's test mode does.
func TestMockOrders(t *testing.T) {
	mkt := markettest.Start(t, "ak", "sk", "uk")
	c := client(t, mkt.URL, "ak", "sk", "")
	for _, id := range markettest.MockOrders {
		o, err := c.Order(ctx, id, id+"-000001")
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		want, _ := markettest.MockOrder(id)
		if l, ok := o.Line(id + "-000001"); !ok || o.OrderType != want.OrderType || l.ChargingMode != want.OrderLine[0].ChargingMode || l.ProductInfo[0].SKUCode != "mock-sku" {
			t.Errorf("%s = %+v", id, o)
		}
	}
	var e *marketapi.Error
	if _, err := c.Order(ctx, "NOSUCHORDER", ""); !errors.As(err, &e) || e.Code != marketapi.CodeParam {
		t.Errorf("unknown order: %v", err)
	}
}
