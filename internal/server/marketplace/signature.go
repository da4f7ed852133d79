package marketplace

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
)

// Window is how far a request's timestamp may be from iscd's clock.
const Window = 60 * time.Second

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
	errNoSignature  = errors.New("signature, timestamp and nonce are required (a nonce and a signature of at most 256 characters)")
	errBadSignature = errors.New("signature does not match")
	errStale        = errors.New("timestamp outside the allowed window")
	errReplay       = errors.New("request already received (a replay)")
)

// checkSignature verifies sig over the request in constant time and the
// timestamp against now, and returns the signature's bytes (the replay
// cache's key) and the time the timestamp names.
//
// The canonical string joins nonce and timestamp without a separator, so
// only one spelling of a timestamp is accepted: decimal digits with no
// sign, space or leading zero. Otherwise a digit moved from the nonce's end
// to the timestamp's front ("…0" + "1767…" → "…" + "01767…") would give a
// second request with the same signature.
func checkSignature(accessKey, sig, nonce, timestamp string, body []byte, now time.Time) (key []byte, at time.Time, err error) {
	return checkSigned(sig, nonce, timestamp, now, func() []byte { return signature(accessKey, nonce, timestamp, body) })
}

// checkSigned is what the production interface and the sync interfaces
// share: every part present, the timestamp canonical and within Window of
// now, then sig compared in constant time with want() (computed only
// then). It returns the signature's bytes, the replay cache's key.
func checkSigned(sig, nonce, timestamp string, now time.Time, want func() []byte) (key []byte, at time.Time, err error) {
	if sig == "" || nonce == "" || timestamp == "" || len(nonce) > 256 || len(sig) > 256 {
		return nil, at, errNoSignature
	}
	at, err = parseTimestamp(timestamp)
	if err != nil {
		return nil, at, err
	}
	if d := now.Sub(at); d > Window || d < -Window {
		return nil, at, errStale
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want()) {
		return nil, at, errBadSignature
	}
	return got, at, nil
}

// readBody reads a call's body, at most limit bytes, before anything
// else: a longer one (by its Content-Length at once, or as it arrives) is
// refused with 413, one that does not arrive in time with 408. It
// returns http.StatusOK, or the status and the message to answer.
func readBody(r *http.Request, limit int64) (body []byte, status int, msg string) {
	tooLargeMsg := fmt.Sprintf("authentication failed: request body over %d KiB", limit>>10)
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLargeMsg
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, http.StatusRequestEntityTooLarge, tooLargeMsg
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, http.StatusRequestTimeout, "authentication failed: request body not received in time"
	case err != nil:
		return nil, http.StatusBadRequest, "authentication failed: request body unreadable"
	}
	return body, http.StatusOK, ""
}

// What is left of a refused call's body is read after the answer, up to
// drainLimit bytes for at most drainTime, so that its sender gets the
// answer.
const (
	drainLimit = 512 << 10
	drainTime  = time.Second
)

// writeReply writes a call's JSON answer. A call answered with another
// status than 200 was refused before its body was read (too large, too
// slow, too many calls at once): the answer leaves at once and the
// connection closes after it. What is left of the body is read in
// between, within drainLimit and drainTime: closing a connection with
// bytes unread resets it, and a sender still writing would see a broken
// pipe instead of the answer. A longer body, or a stalled one, is cut.
func writeReply(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, status int, reply any) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusOK {
		_ = json.NewEncoder(w).Encode(reply)
		return
	}
	w.Header().Set("Connection", "close")
	_ = rc.EnableFullDuplex() // the body is read after the answer
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(reply)
	_ = rc.Flush()
	if r.ContentLength <= drainLimit {
		_ = rc.SetReadDeadline(time.Now().Add(drainTime))
		_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
	}
}

// parseTimestamp reads a canonical timestamp: milliseconds since 1970, or
// seconds (a value below 10^12: milliseconds passed it in 2001).
func parseTimestamp(s string) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("timestamp %.24q: %s", s, why)
	}
	if len(s) > 16 { // 10^16 ms is the year 318857
		return bad("too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return bad("not a decimal number of milliseconds")
		}
	}
	if s[0] == '0' {
		return bad("leading zero (only the canonical spelling is accepted)")
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return bad("not a number")
	}
	if ts < 1e12 {
		return time.Unix(ts, 0), nil
	}
	return time.UnixMilli(ts), nil
}

// remember records an authenticated request in the store's replay cache,
// which every replica shares, keyed on its signature: a replay is the same
// signature, whatever nonce and timestamp it is split into. The key is
// kept until the timestamp is two windows old, so a replica whose clock
// lags by up to a window still refuses it.
func (h *Handler) remember(ctx context.Context, sig []byte, at, now time.Time) error {
	return remember(ctx, h.st, sig, at, now)
}

// requests is where the replay cache is kept.
type requests interface {
	RememberRequest(ctx context.Context, sig string, now, until time.Time) error
}

func remember(ctx context.Context, st requests, sig []byte, at, now time.Time) error {
	err := st.RememberRequest(ctx, hex.EncodeToString(sig), now, at.Add(2*Window))
	if errors.Is(err, store.ErrExists) {
		return errReplay
	}
	return err
}
