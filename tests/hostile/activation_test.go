package hostile_test

// newInstance's appInfo: the one-time activation secret that signs a
// marketplace customer's first admin in. Guessed, replayed, borrowed,
// raced, oversized or superseded secrets get no token, and neither the
// secret nor the token it buys reaches iscd's log.

import (
	"bytes"
	"context"
	"encoding/json"

	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/iscsdk/iscsdk/internal/appinfo"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/internal/store/pgstore/pgtest"
)

// lockedBuf is a log sink tests read while iscd writes.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// activationRig is an iscd answering appInfo, with its log captured.
type activationRig struct {
	srv *servertest.Server
	mkt *mktCaller
	log *lockedBuf
}

func newActivationRig(t *testing.T) *activationRig {
	var cfg server.Config
	cfg.Marketplace.Outbound.AppInfo = marketplace.AppInfo{FrontEndURL: "https://console.example/login"}
	logs := &lockedBuf{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := servertest.StartConfig(t, cfg)
	return &activationRig{srv: srv, mkt: newMktCaller(t, srv), log: logs}
}

// buy is newInstance for an order line; it returns the decrypted user and
// secret of appInfo.
func (r *activationRig) buy(t *testing.T, nonce, line string) (user, secret string) {
	t.Helper()
	c := r.mkt.sign(nonce, map[string]any{"activity": "newInstance", "orderId": "ORD-hostile", "orderLineId": line,
		"businessId": "b-" + nonce, "customerId": "hostile"})
	q := url.Values{"signature": {c.sig}, "timestamp": {c.ts}, "nonce": {c.nonce}}
	resp, err := r.mkt.hc.Post(r.mkt.url+"?"+q.Encode(), "application/json", bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		ResultCode  string `json:"resultCode"`
		EncryptType string `json:"encryptType"`
		AppInfo     struct{ UserName, Password string }
	}
	json.NewDecoder(resp.Body).Decode(&a)
	if a.ResultCode != marketplace.ResultOK {
		t.Fatalf("newInstance: %+v", a)
	}
	user, err1 := appinfo.Decrypt(r.mkt.key, a.EncryptType, a.AppInfo.UserName)
	secret, err2 := appinfo.Decrypt(r.mkt.key, a.EncryptType, a.AppInfo.Password)
	if err1 != nil || err2 != nil {
		t.Fatalf("appInfo does not decrypt: %v %v", err1, err2)
	}
	return user, secret
}

// activate presents user and secret; it returns the HTTP status and the
// token, if any.
func (r *activationRig) activate(t *testing.T, body []byte) (int, string) {
	t.Helper()
	u := strings.TrimSuffix(r.mkt.url, marketplace.Path) + marketplace.ActivatePath
	resp, err := http.Post(u, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Token
}

func creds(user, secret string) []byte {
	b, _ := json.Marshal(map[string]string{"userName": user, "password": secret})
	return b
}

// apiTokens counts the live API tokens of user.
func apiTokens(t *testing.T, srv *servertest.Server, user string) int {
	t.Helper()
	ts, err := srv.Store().Tokens(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tk := range ts {
		if tk.Kind == "isk" && !tk.Revoked {
			n++
		}
	}
	return n
}

func TestActivationGuessedBorrowedAndMalformed(t *testing.T) {
	r := newActivationRig(t)
	user, secret := r.buy(t, "n-act-1", "L-1")
	id, _, _ := strings.Cut(strings.TrimPrefix(secret, "isv_"), "_")
	for name, body := range map[string][]byte{
		"made-up secret":        creds(user, "isv_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
		"right id, wrong part":  creds(user, "isv_"+id+"_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
		"another user":          creds("admin-someone-else", secret),
		"an API token's prefix": creds(user, "isk"+strings.TrimPrefix(secret, "isv")),
		"empty":                 creds(user, ""),
		"not JSON":              []byte("userName=" + user + "&password=" + secret),
		"oversized":             []byte(`{"userName":"` + user + `","password":"` + secret + `","pad":"` + strings.Repeat("x", 1<<20) + `"}`),
	} {
		if code, tok := r.activate(t, body); code == http.StatusOK || tok != "" {
			t.Errorf("%s: HTTP %d, token %q", name, code, tok)
		}
	}
	if n := apiTokens(t, r.srv, user); n != 0 {
		t.Fatalf("%d API tokens issued to failed attempts", n)
	}
	resp, err := http.Get(strings.TrimSuffix(r.mkt.url, marketplace.Path) + marketplace.ActivatePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d", resp.StatusCode)
	}
	// The attempts spent nothing: the customer's own activation works,
	// once, and neither secret nor token is in the log.
	code, tok := r.activate(t, creds(user, secret))
	if code != http.StatusOK || !strings.HasPrefix(tok, "isk_") {
		t.Fatalf("the customer's activation: HTTP %d", code)
	}
	if code, tok := r.activate(t, creds(user, secret)); code != http.StatusUnauthorized || tok != "" {
		t.Errorf("replayed secret: HTTP %d, token %q", code, tok)
	}
	if log := r.log.String(); strings.Contains(log, secret) || strings.Contains(log, tok) || !strings.Contains(log, "marketplace activation spent") {
		t.Error("the log holds the secret or the token (or no activation entry)")
	}
}

// Twenty redemptions of one secret at once: one token.
func TestActivationRace(t *testing.T) {
	r := newActivationRig(t)
	user, secret := r.buy(t, "n-act-race", "L-race")
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if code, tok := r.activate(t, creds(user, secret)); code == http.StatusOK && tok != "" {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || apiTokens(t, r.srv, user) != 1 {
		t.Errorf("%d redemptions won, %d tokens; want 1", won.Load(), apiTokens(t, r.srv, user))
	}
}

// A retried newInstance (the marketplace retries for hours) answers a new
// secret and revokes the one before: a secret captured from an earlier
// answer is worthless.
func TestActivationSupersededSecret(t *testing.T) {
	r := newActivationRig(t)
	user, first := r.buy(t, "n-act-a", "L-again")
	user2, second := r.buy(t, "n-act-b", "L-again")
	if user2 != user || second == first {
		t.Fatalf("retry answered user %q (was %q), secret changed %v", user2, user, second != first)
	}
	if code, _ := r.activate(t, creds(user, first)); code != http.StatusUnauthorized {
		t.Errorf("the superseded secret: HTTP %d", code)
	}
	if code, tok := r.activate(t, creds(user, second)); code != http.StatusOK || tok == "" {
		t.Errorf("the current secret: HTTP %d", code)
	}
}

// Two replicas on one PostgreSQL database, the same secret presented to
// both at once, again and again: one token in all.
func TestActivationRaceAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	var cfg server.Config
	cfg.Database = dsn
	cfg.Marketplace.Outbound.AppInfo = marketplace.AppInfo{FrontEndURL: "https://console.example/login"}
	a := servertest.StartConfig(t, cfg)
	b := servertest.StartConfig(t, cfg)
	ra := &activationRig{srv: a, mkt: newMktCaller(t, a), log: &lockedBuf{}}
	rb := &activationRig{srv: b, mkt: newMktCaller(t, b), log: &lockedBuf{}}
	user, secret := ra.buy(t, "n-act-replicas", "L-replicas")
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		r := []*activationRig{ra, rb}[i%2]
		wg.Go(func() {
			if code, tok := r.activate(t, creds(user, secret)); code == http.StatusOK && tok != "" {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || apiTokens(t, a, user) != 1 {
		t.Errorf("%d redemptions won on two replicas, %d tokens; want 1", won.Load(), apiTokens(t, a, user))
	}
}
