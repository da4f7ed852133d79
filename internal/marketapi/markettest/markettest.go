// Package markettest is a cloud marketplace for tests: it serves the open
// API calls iscd makes (order query, usage push, licence delivery),
// verifies every signature with code of its own — not package aksk's, so a
// mistake there cannot hide itself — records what it receives, and answers
// as a test scripts it: any result code, a timeout, or a failure after it
// accepted (the records billed, the answer lost).
package markettest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/marketapi"
)

// Answer is what the server does with one request.
type Answer struct {
	Code        string        // the result code to answer (default MKT.0000)
	Status      int           // the HTTP status (default 200)
	Hang        bool          // answer nothing until the client gives up
	AcceptFirst bool          // with Hang or a failing Code: bill the records first
	Hold        chan struct{} // wait for this to close before answering
}

// Server is a marketplace. Its methods are safe for concurrent use.
type Server struct {
	URL       string
	AK, SK    string
	UsageKey  string
	srv       *httptest.Server
	mu        sync.Mutex
	script    map[string][]Answer // by path
	billed    map[string]marketapi.UsageRecord
	received  map[string]int // metering_sn → pushes that carried it
	batches   []int          // the size of each push received
	conflicts []string
	orders    map[string]marketapi.Order
	delivered map[string]marketapi.Delivery
	failures  []string // signature failures, for tests to assert
	inFlight  int
	maxFlight int
	arrived   chan string // a path per request, when a test listens
	nonces    map[string]bool
	refuse    map[string]string // instance → the code a push naming it gets
	delay     time.Duration     // before each usage push is answered
}

// SetDelay makes each usage push take d before its answer, so that
// pushes that overlap show in MaxConcurrentPushes.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Start runs a marketplace with these keys until the test ends.
func Start(t interface {
	Cleanup(func())
}, ak, sk, usageKey string) *Server {
	s := &Server{AK: ak, SK: sk, UsageKey: usageKey, script: map[string][]Answer{},
		billed: map[string]marketapi.UsageRecord{}, received: map[string]int{}, orders: mockOrders(),
		delivered: map[string]marketapi.Delivery{}, nonces: map[string]bool{}, refuse: map[string]string{}, arrived: make(chan string, 1<<16)}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server; held and hanging requests end.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Script queues answers for the next requests to path (marketapi.UsagePath,
// OrderPath or DeliveryPath); once they are used, requests are accepted.
func (s *Server) Script(path string, a ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[path] = append(s.script[path], a...)
}

// Arrived receives the path of each request as it arrives (after its
// signatures were checked), for tests that act mid-request.
func (s *Server) Arrived() <-chan string { return s.arrived }

// Billed is every accepted usage record by metering_sn.
func (s *Server) Billed() map[string]marketapi.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]marketapi.UsageRecord, len(s.billed))
	for k, v := range s.billed {
		out[k] = v
	}
	return out
}

// Received is how many pushes carried sn (a retry after a lost answer
// carries it again; billed once all the same).
func (s *Server) Received(sn string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[sn]
}

// Batches is the size of every usage push received, in order.
func (s *Server) Batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// Conflicts lists metering numbers pushed again with other content (a
// double bill in the making); a correct client has none.
func (s *Server) Conflicts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.conflicts...)
}

// Failures lists the requests refused for their signatures.
func (s *Server) Failures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failures...)
}

// MaxConcurrentPushes is the most usage pushes in progress at once.
func (s *Server) MaxConcurrentPushes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight
}

// Delivered is the licence delivered for an eventId.
func (s *Server) Delivered(eventID string) (marketapi.Delivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.delivered[eventID]
	return d, ok
}

// RefuseInstance makes every push that names instance answer code and
// bill nothing, as the marketplace refuses a whole push for one bad
// record ("" stops it).
func (s *Server) RefuseInstance(instance, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(s.refuse, instance)
		return
	}
	s.refuse[instance] = code
}

// AddOrder makes an order known to the order query.
func (s *Server) AddOrder(o marketapi.Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.OrderID] = o
}

func (s *Server) next(path string) Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.script[path]
	if len(q) == 0 {
		return Answer{}
	}
	s.script[path] = q[1:]
	return q[0]
}

func (s *Server) fail(w http.ResponseWriter, status int, code, msg string) {
	s.mu.Lock()
	s.failures = append(s.failures, code+" "+msg)
	s.mu.Unlock()
	reply(w, status, code, msg, nil)
}

func reply(w http.ResponseWriter, status int, code, msg string, extra map[string]any) {
	body := map[string]any{"error_code": code, "error_msg": msg, "resultCode": code, "resultMsg": msg}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// ServeHTTP checks the gateway's signature, then the call's own.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return
	}
	if err := VerifyGateway(r, body, s.AK, s.SK, time.Now(), 15*time.Minute); err != nil {
		s.fail(w, http.StatusUnauthorized, "APIGW.0301", err.Error())
		return
	}
	switch r.URL.Path {
	case marketapi.UsagePath:
		s.usage(w, r, body)
	case marketapi.OrderPath:
		s.order(w, r)
	case marketapi.DeliveryPath:
		s.deliver(w, r, body)
	default:
		s.fail(w, http.StatusNotFound, "APIGW.0101", "no API "+r.URL.Path)
	}
}

// VerifyGateway checks an SDK-HMAC-SHA256 Authorization header against
// the request as received, within skew of now.
func VerifyGateway(r *http.Request, body []byte, ak, sk string, now time.Time, skew time.Duration) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "SDK-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("no SDK-HMAC-SHA256 authorization")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	if fields["Access"] != ak {
		return fmt.Errorf("unknown access key")
	}
	date := r.Header.Get("X-Sdk-Date")
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		return fmt.Errorf("X-Sdk-Date %q", date)
	}
	if skew > 0 && (now.Sub(t) > skew || t.Sub(now) > skew) {
		return fmt.Errorf("X-Sdk-Date %s too far from now", date)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !contains(signed, "x-sdk-date") {
		return fmt.Errorf("X-Sdk-Date not signed")
	}
	// The canonical request, rebuilt from what arrived.
	lines := []string{r.Method, canonPath(r.URL.EscapedPath()), canonQuery(r.URL.RawQuery)}
	hdrs := ""
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		hdrs += h + ":" + strings.TrimSpace(v) + "\n"
	}
	lines = append(lines, hdrs, fields["SignedHeaders"])
	hash := sha256.Sum256(body)
	payload := hex.EncodeToString(hash[:])
	if r.Header.Get("X-Sdk-Content-Sha256") == "UNSIGNED-PAYLOAD" {
		payload = "UNSIGNED-PAYLOAD"
	}
	canon := strings.Join(lines, "\n") + "\n" + payload
	ch := sha256.Sum256([]byte(canon))
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte("SDK-HMAC-SHA256\n" + date + "\n" + hex.EncodeToString(ch[:])))
	want := hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature does not match")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// canonPath re-escapes each segment (RFC 3986 unreserved kept) and ends
// it with '/'.
func canonPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if raw, err := url.PathUnescape(seg); err == nil {
			seg = raw
		}
		segs[i] = strictEscape(seg)
	}
	out := strings.Join(segs, "/")
	if !strings.HasSuffix(out, "/") {
		out += "/"
	}
	return out
}

func canonQuery(raw string) string {
	v, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vals := range v {
		for _, val := range vals {
			pairs = append(pairs, strictEscape(k)+"="+strictEscape(val))
		}
	}
	sort.Strings(pairs) // k=v strings sort as the pairs do: '=' sorts below every escaped byte
	return strings.Join(pairs, "&")
}

// strictEscape is url.QueryEscape with '+' for a space undone and '~'
// kept, as the gateway escapes.
func strictEscape(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "%7E", "~")
	return e
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request, body []byte) {
	ts, nonce := r.Header.Get("ts"), r.Header.Get("nonce")
	m := hmac.New(sha256.New, []byte(s.UsageKey))
	m.Write([]byte("ts=" + ts + "&nonce=" + nonce + "&body=" + string(body)))
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("signature"))
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		s.fail(w, http.StatusOK, marketapi.CodeBodySig, "body signature does not match")
		return
	}
	s.mu.Lock()
	if s.nonces[nonce] {
		s.mu.Unlock()
		s.fail(w, http.StatusOK, marketapi.CodeBodySig, "nonce used before")
		return
	}
	s.nonces[nonce] = true
	s.inFlight++
	s.maxFlight = max(s.maxFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	var b marketapi.UsageBody
	if err := json.Unmarshal(body, &b); err != nil {
		reply(w, http.StatusOK, marketapi.CodeInput, "body: "+err.Error(), nil)
		return
	}
	if err := checkUsage(b.UsageRecords); err != nil {
		code := marketapi.CodeInput
		if len(b.UsageRecords) > marketapi.MaxBatch {
			code = marketapi.CodeTooMany
		}
		reply(w, http.StatusOK, code, err.Error(), nil)
		return
	}
	s.mu.Lock()
	s.batches = append(s.batches, len(b.UsageRecords))
	refused := ""
	for _, u := range b.UsageRecords {
		s.received[u.MeteringSN]++
		if c := s.refuse[u.InstanceID]; c != "" {
			refused = c
		}
	}
	s.mu.Unlock()
	s.arrived <- r.URL.Path
	if refused != "" {
		reply(w, http.StatusOK, refused, "refused for an instance of the push", nil)
		return
	}

	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return // the client gave up before the marketplace took the push
		}
	}
	a := s.next(marketapi.UsagePath)
	if a.Hold != nil {
		select {
		case <-a.Hold:
		case <-r.Context().Done():
		}
	}
	code := a.Code
	if code == "" {
		code = marketapi.OK
	}
	if (code == marketapi.OK && !a.Hang && a.Status == 0) || a.AcceptFirst {
		s.bill(b.UsageRecords)
	}
	if a.Hang {
		<-r.Context().Done()
		return
	}
	reply(w, cmp(a.Status, http.StatusOK), code, "scripted", nil)
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (s *Server) bill(recs []marketapi.UsageRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range recs {
		if old, ok := s.billed[u.MeteringSN]; ok {
			if old != u {
				s.conflicts = append(s.conflicts, u.MeteringSN)
			}
			continue // the marketplace bills a metering number once
		}
		s.billed[u.MeteringSN] = u
	}
}

// checkUsage is the marketplace's input check of a push.
func checkUsage(recs []marketapi.UsageRecord) error {
	if len(recs) == 0 || len(recs) > marketapi.MaxBatch {
		return fmt.Errorf("%d records: want 1 to %d", len(recs), marketapi.MaxBatch)
	}
	for _, u := range recs {
		for name, v := range map[string]string{"record_time": u.RecordTime, "begin_time": u.BeginTime, "end_time": u.EndTime} {
			if _, err := time.Parse(marketapi.TimeLayout, v); err != nil {
				return fmt.Errorf("%s %s: %q is not yyyyMMdd'T'HHmmss'Z'", u.MeteringSN, name, v)
			}
		}
		if u.InstanceID == "" || u.MeteringSN == "" || u.UsageValue <= 0 {
			return fmt.Errorf("%s: instance_id, metering_sn and a usage_value > 0 are required", u.MeteringSN)
		}
	}
	return nil
}

func (s *Server) order(w http.ResponseWriter, r *http.Request) {
	s.arrived <- r.URL.Path
	if a := s.next(marketapi.OrderPath); a.Code != "" {
		reply(w, cmp(a.Status, http.StatusOK), a.Code, "scripted", nil)
		return
	}
	id, line := r.URL.Query().Get("orderId"), r.URL.Query().Get("orderLineId")
	s.mu.Lock()
	o, ok := s.orders[id]
	s.mu.Unlock()
	if !ok {
		reply(w, http.StatusOK, "MKT.0101", "no order "+id, nil)
		return
	}
	if line != "" {
		l, ok := o.Line(line)
		if !ok {
			reply(w, http.StatusOK, "MKT.0101", "no order line "+line, nil)
			return
		}
		o.OrderLine = []marketapi.OrderLine{l}
	}
	reply(w, http.StatusOK, marketapi.OK, "success", map[string]any{"orderInfo": o})
}

func (s *Server) deliver(w http.ResponseWriter, r *http.Request, body []byte) {
	s.arrived <- r.URL.Path
	a := s.next(marketapi.DeliveryPath)
	if a.Hang {
		<-r.Context().Done()
		return
	}
	if a.Code != "" || a.Status != 0 {
		reply(w, cmp(a.Status, http.StatusOK), cmpCode(a.Code), "scripted", nil)
		return
	}
	var d marketapi.Delivery
	if err := json.Unmarshal(body, &d); err != nil || d.EventID == "" || d.License == "" {
		reply(w, http.StatusOK, marketapi.CodeInput, "eventId and license are required", nil)
		return
	}
	s.mu.Lock()
	s.delivered[d.EventID] = d
	s.mu.Unlock()
	reply(w, http.StatusOK, marketapi.OK, "success", nil)
}

func cmpCode(c string) string {
	if c == "" {
		return marketapi.CodeInternal
	}
	return c
}

// MockOrders are the ids the marketplace's test mode answers.
var MockOrders = []string{"MOCKPERIODYEARNEW", "MOCKONETIMENEW", "MOCKONDEMAND", "MOCKONDEMANDPKG",
	"MOCKPERIODDAYTRIAL", "MOCKMONTYTRIALTOFORMAL", "MOCKMONTYUNSUBSCRIBE", "MOCKMONTYRENEW", "MOCKMONTYCHANGE"}

// MockOrder is the order the test mode gives a mock id, as this server
// and iscd's test mode both answer it (the guide names the ids but not
// their contents: these are assumptions). Its one line is id + "-000001",
// SKU "mock-sku", customer "mockcustomer".
func MockOrder(id string) (marketapi.Order, bool) {
	type shape struct{ orderType, mode, period string }
	m, ok := map[string]shape{
		"MOCKPERIODYEARNEW":      {"NEW", "PERIOD", "year"},
		"MOCKONETIMENEW":         {"NEW", "ONE_TIME", ""},
		"MOCKONDEMAND":           {"NEW", "ON_DEMAND", ""},
		"MOCKONDEMANDPKG":        {"NEW", "ON_DEMAND_PKG", ""},
		"MOCKPERIODDAYTRIAL":     {"TRIAL", "PERIOD", "day"},
		"MOCKMONTYTRIALTOFORMAL": {"TRIAL_TO_FORMAL", "PERIOD", "month"},
		"MOCKMONTYUNSUBSCRIBE":   {"UNSUBSCRIBE", "PERIOD", "month"},
		"MOCKMONTYRENEW":         {"RENEW", "PERIOD", "month"},
		"MOCKMONTYCHANGE":        {"CHANGE", "PERIOD", "month"},
	}[id]
	if !ok {
		return marketapi.Order{}, false
	}
	line := marketapi.OrderLine{OrderLineID: id + "-000001", ChargingMode: m.mode, PeriodType: m.period,
		ProductInfo: []marketapi.ProductInfo{{ProductID: "mock-product", SKUCode: "mock-sku", ProductName: "Mock"}}}
	if m.period != "" {
		line.PeriodNumber = 1
		line.ExpireTime = "20991231160000"
	}
	return marketapi.Order{OrderID: id, OrderType: m.orderType, CreateTime: "20260101000000", OrderLine: []marketapi.OrderLine{line},
		BuyerInfo: marketapi.Buyer{CustomerID: "mockcustomer", CustomerName: "Mock customer"}}, true
}

func mockOrders() map[string]marketapi.Order {
	out := map[string]marketapi.Order{}
	for _, id := range MockOrders {
		out[id], _ = MockOrder(id)
	}
	return out
}
