package token_test

import (
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/token"
)

func TestRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	// Secrets are base64url and so sometimes hold "_": enough tokens that
	// some do.
	for range 200 {
		for _, prefix := range []string{token.PrefixAPI, token.PrefixAdmin, token.PrefixResume, token.PrefixWorker} {
			tok, id, hash := token.New(prefix)
			if !strings.HasPrefix(tok, prefix+"_"+id+"_") || len(tok) > token.MaxLen {
				t.Fatalf("New(%q) = %q, id %q", prefix, tok, id)
			}
			gotID, secret, err := token.Parse(prefix, tok)
			if err != nil || gotID != id {
				t.Fatalf("Parse(%q) = %q, %v; want id %q", tok, gotID, err, id)
			}
			if !token.Verify(secret, hash) {
				t.Fatalf("Verify fails for the secret of %q", tok)
			}
			if hash != token.Hash(secret) || strings.Contains(hash, secret) {
				t.Fatalf("hash %q is not the SHA-256 of the secret", hash)
			}
			if seen[tok] || seen[id] {
				t.Fatalf("New repeated %q", tok)
			}
			seen[tok], seen[id] = true, true
		}
	}
}

func TestParseRejects(t *testing.T) {
	tok, _, _ := token.New(token.PrefixAPI)
	for name, s := range map[string]string{
		"empty":              "",
		"wrong prefix":       "isa" + tok[3:],
		"prefix without _":   "isk" + strings.Repeat("a", 20),
		"prefix in the text": "x" + tok,
		"prefix only":        "isk_",
		"no secret":          "isk_0123456789abcdef",
		"empty secret":       "isk_0123456789abcdef_",
		"empty id":           "isk__secret",
		"over-long":          tok + strings.Repeat("a", token.MaxLen),
	} {
		if id, secret, err := token.Parse(token.PrefixAPI, s); err != token.ErrMalformed {
			t.Errorf("%s: Parse(%q) = %q, %q, %v; want ErrMalformed", name, s, id, secret, err)
		}
	}
	// The longest accepted token is MaxLen bytes.
	longest := "isk_id_" + strings.Repeat("s", token.MaxLen-len("isk_id_"))
	if _, _, err := token.Parse(token.PrefixAPI, longest); err != nil {
		t.Errorf("Parse of a %d-byte token: %v", len(longest), err)
	}
	if _, _, err := token.Parse(token.PrefixAPI, longest+"s"); err != token.ErrMalformed {
		t.Errorf("Parse of a %d-byte token: %v, want ErrMalformed", len(longest)+1, err)
	}
}

func TestVerifyRejects(t *testing.T) {
	tok, _, _ := token.New(token.PrefixAPI)
	_, secret, _ := token.Parse(token.PrefixAPI, tok)
	hash := token.Hash(secret)
	for name, s := range map[string]string{
		"empty":           "",
		"one byte off":    secret[:len(secret)-1] + string(secret[len(secret)-1]^1),
		"truncated":       secret[:len(secret)-1],
		"extended":        secret + "x",
		"the hash itself": hash,
	} {
		if token.Verify(s, hash) {
			t.Errorf("%s: Verify(%q) = true", name, s)
		}
	}
	if token.Verify(secret, "") || token.Verify(secret, strings.ToUpper(hash)) {
		t.Error("Verify accepts a secret against an empty or altered hash")
	}
}

func TestID(t *testing.T) {
	for range 100 {
		id := token.ID()
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("ID() = %q, want 16 hex digits", id)
		}
	}
}
