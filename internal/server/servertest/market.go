package servertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/appinfo"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
)

// BuyOnDemand plays the marketplace selling product to customer cust as a
// pay-per-use order: a signed newInstance to url (dev.env's
// ISCD_MARKETPLACE_URL) with the marketplace key, then the activation of
// the appInfo it answers, as the customer's first admin would. It returns
// that admin's API token and the instance id.
func BuyOnDemand(t testing.TB, url, key, product, cust string) (token, instance string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"activity": "newInstance", "orderId": "ORD-" + cust, "orderLineId": "ORD-" + cust + "-1",
		"businessId": "b-" + cust, "customerId": cust, "productId": product, "quantity": 5})
	ts, nonce := strconv.FormatInt(time.Now().UnixMilli(), 10), "n-"+cust+strconv.FormatInt(time.Now().UnixNano(), 10)
	resp, err := http.Post(fmt.Sprintf("%s?signature=%s&timestamp=%s&nonce=%s", url, marketplace.Sign(key, nonce, ts, body), ts, nonce),
		"application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		ResultCode  string `json:"resultCode"`
		InstanceID  string `json:"instanceId"`
		EncryptType string `json:"encryptType"`
		AppInfo     struct{ UserName, Password string }
	}
	json.NewDecoder(resp.Body).Decode(&r)
	if r.ResultCode != "000000" {
		t.Fatalf("newInstance: %+v", r)
	}
	user, err1 := appinfo.Decrypt(key, r.EncryptType, r.AppInfo.UserName)
	pass, err2 := appinfo.Decrypt(key, r.EncryptType, r.AppInfo.Password)
	if err1 != nil || err2 != nil {
		t.Fatalf("appInfo: %v %v", err1, err2)
	}
	act, _ := json.Marshal(map[string]string{"userName": user, "password": pass})
	resp, err = http.Post(strings.TrimSuffix(url, marketplace.Path)+marketplace.ActivatePath, "application/json", bytes.NewReader(act))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	if !strings.HasPrefix(tok.Token, "isk_") {
		t.Fatalf("activation: HTTP %d %+v", resp.StatusCode, tok)
	}
	return tok.Token, r.InstanceID
}

// KitSync plays the marketplace calling one of iscd's 联营kit sync
// interfaces (tenantSync, applicationSync, authSync, ...): body signed
// with kitKey as the marketplace signs it. It returns the resultCode.
func (s *Server) KitSync(t testing.TB, kitKey, name string, body any) string {
	t.Helper()
	return KitSync(t, s.AdminURL, kitKey, name, body)
}

// KitSync is Server.KitSync for an iscd at adminURL that the test did not
// start (the C tests' dev iscd).
func KitSync(t testing.TB, adminURL, kitKey, name string, body any) string {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ts, nonce := strconv.FormatInt(time.Now().UnixMilli(), 10), "n-"+strconv.FormatInt(time.Now().UnixNano(), 10)
	req, err := http.NewRequest(http.MethodPost, adminURL+marketplace.SyncPrefix+name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-sign", marketplace.SyncSign(kitKey, nonce, ts, data))
	req.Header.Set("x-timestamp", ts)
	req.Header.Set("x-nonce", nonce)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ ResultCode, ResultMsg string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: HTTP %s, not JSON: %v", name, resp.Status, err)
	}
	if r.ResultCode != marketplace.ResultOK {
		t.Logf("%s: %s %s", name, r.ResultCode, r.ResultMsg)
	}
	return r.ResultCode
}

// KitStamp is a sync call's timeStamp for now: yyyyMMddHHmmssSSS, UTC+8.
func KitStamp() string {
	now := time.Now().In(time.FixedZone("UTC+8", 8*3600))
	return now.Format("20060102150405") + fmt.Sprintf("%03d", now.Nanosecond()/1e6)
}
