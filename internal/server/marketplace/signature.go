package marketplace

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Window is how far a request's timestamp may be from iscd's clock.
const Window = 60 * time.Second

// maxNonces bounds the nonces remembered: at most this many requests in
// two windows. The marketplace sends a few a minute.
const maxNonces = 100000

// Sign returns the signature the marketplace puts in a request's query:
// hex(HMAC-SHA256(accessKey, accessKey + nonce + timestamp +
// hex(HMAC-SHA256(accessKey, body)))). Vendors' own test tools can use it.
func Sign(accessKey, nonce, timestamp string, body []byte) string {
	return hex.EncodeToString(signature(accessKey, nonce, timestamp, body))
}

func signature(accessKey, nonce, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(accessKey))
	m.Write(body)
	canonical := accessKey + nonce + timestamp + hex.EncodeToString(m.Sum(nil))
	m = hmac.New(sha256.New, []byte(accessKey))
	m.Write([]byte(canonical))
	return m.Sum(nil)
}

// Authentication failures; all are answered with ResultAuth.
var (
	errNoSignature  = errors.New("signature, timestamp and nonce are required in the query")
	errBadSignature = errors.New("signature does not match")
	errStale        = errors.New("timestamp outside the allowed window")
	errReplay       = errors.New("nonce already used")
)

// checkSignature verifies sig over the request in constant time and the
// timestamp against now.
func checkSignature(accessKey, sig, nonce, timestamp string, body []byte, now time.Time) error {
	if sig == "" || nonce == "" || timestamp == "" || len(nonce) > 256 || len(timestamp) > 20 {
		return errNoSignature
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts <= 0 {
		return fmt.Errorf("timestamp %q: not a number", timestamp)
	}
	var at time.Time
	if ts < 1e12 { // seconds: milliseconds have passed 1e12 since 2001
		at = time.Unix(ts, 0)
	} else {
		at = time.UnixMilli(ts)
	}
	if d := now.Sub(at); d > Window || d < -Window {
		return errStale
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errBadSignature
	}
	if !hmac.Equal(got, signature(accessKey, nonce, timestamp, body)) {
		return errBadSignature
	}
	return nil
}

// nonces remembers the nonces of authenticated requests long enough that
// a replay is refused while its timestamp would still be accepted. Each
// nonce is kept for two windows from when it was seen (its timestamp was
// at most one window ahead of the clock), so expiry follows arrival order
// and a FIFO suffices.
type nonces struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	order []string
}

func newNonces() *nonces { return &nonces{seen: map[string]time.Time{}} }

// errBusy: too many nonces inside the window to remember another.
var errBusy = errors.New("too many requests inside the replay window")

// add records nonce at now, or says why it cannot.
func (n *nonces) add(nonce string, now time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(n.order) > 0 && now.After(n.seen[n.order[0]]) {
		delete(n.seen, n.order[0])
		n.order = n.order[1:]
	}
	if _, ok := n.seen[nonce]; ok {
		return errReplay
	}
	if len(n.order) >= maxNonces {
		return errBusy
	}
	n.seen[nonce] = now.Add(2 * Window)
	n.order = append(n.order, nonce)
	return nil
}
