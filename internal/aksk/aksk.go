// Package aksk signs HTTP requests the way the cloud's API gateway checks
// them: "SDK-HMAC-SHA256" with an access key (AK) and a secret key (SK).
//
// The algorithm (the gateway's published signing guide and its SDK's
// signer):
//
//	canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n hex(SHA-256(body))
//	string to sign    = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(SHA-256(canonical request))
//	signature         = hex(HMAC-SHA256(SK, string to sign))
//
// URI is the escaped path with a trailing '/' forced, QUERY the sorted
// escaped k=v pairs joined by '&', HEADERS each signed header as
// "lower(name):trim(value)\n" sorted by name, SIGNED their names joined by
// ';'. The request then carries X-Sdk-Date and
// "Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=...".
package aksk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Algorithm names the scheme in the Authorization header.
const Algorithm = "SDK-HMAC-SHA256"

// DateHeader carries the signing time, DateLayout its format (UTC).
const (
	DateHeader = "X-Sdk-Date"
	DateLayout = "20060102T150405Z"
)

// UnsignedPayload, as X-Sdk-Content-Sha256, leaves the body out of the
// signature (for bodies streamed without being held).
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// Key is an access key pair. Its String never shows the secret.
type Key struct {
	Access string // AK, sent in clear
	Secret string // SK, only ever used as the HMAC key
}

// String names the access key only.
func (k Key) String() string { return "aksk{access=" + k.Access + "}" }

// GoString is String, so %#v does not print the secret either.
func (k Key) GoString() string { return k.String() }

// Sign sets X-Sdk-Date (now, unless the request has one) and
// Authorization on r, whose body is body (nil for none; r.Body is not
// read). The headers r has when Sign is called are signed, as the
// gateway's SDK signs them: all but Content-Type and names with an
// underscore (which proxies drop). Go keeps Host out of r.Header: to sign
// it, set r.Header's Host to r.URL.Host first (Go sends r.Host or the URL's
// host whatever r.Header says). The published vectors sign X-Sdk-Date
// alone.
func (k Key) Sign(r *http.Request, body []byte, now time.Time) error {
	if k.Access == "" || k.Secret == "" {
		return errors.New("aksk: no access key pair")
	}
	if r.Header.Get(DateHeader) == "" {
		r.Header.Set(DateHeader, now.UTC().Format(DateLayout))
	}
	names := signedHeaders(r)
	canon := CanonicalRequest(r, names, body)
	sig := signature(k.Secret, StringToSign(r.Header.Get(DateHeader), canon))
	r.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		Algorithm, k.Access, strings.Join(names, ";"), sig))
	return nil
}

// signedHeaders are the lower-case names of the headers to sign, sorted.
func signedHeaders(r *http.Request) []string {
	var names []string
	for name := range r.Header {
		n := strings.ToLower(name)
		if n != "authorization" && n != "content-type" && !strings.Contains(n, "_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// CanonicalRequest is the first step of the signature, exported for test
// tools that show their work.
func CanonicalRequest(r *http.Request, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalURI(r.URL) + "\n")
	b.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, name := range signed {
		b.WriteString(name + ":" + strings.TrimSpace(headerValue(r, name)) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	if r.Header.Get("X-Sdk-Content-Sha256") == UnsignedPayload {
		b.WriteString(UnsignedPayload)
	} else {
		sum := sha256.Sum256(body)
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	return strings.Join(r.Header.Values(name), ",")
}

// StringToSign is the second step.
func StringToSign(date, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + date + "\n" + hex.EncodeToString(sum[:])
}

func signature(secret, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

func canonicalURI(u *url.URL) string {
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		raw, err := url.PathUnescape(s)
		if err != nil {
			raw = s
		}
		segs[i] = escape(raw)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// escape percent-encodes all but A-Z a-z 0-9 - _ . ~ (upper-case hex).
func escape(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}
