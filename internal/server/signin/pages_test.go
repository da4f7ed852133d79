package signin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/server/signin"
)

// TestPagesLanguageAndPolicy: each page of the sign-in a browser meets —
// the device page, the chooser, an error, the sign-out and "signed out,
// you can close this window" — speaks the browser's language (English,
// Simplified Chinese by Accept-Language or ?lang=zh), says which in
// <html lang>, and is served under the strict policy: no script, style or
// frame, nothing cached or sent as a referrer.
func TestPagesLanguageAndPolicy(t *testing.T) {
	srv, _ := start(t)
	pages := []struct {
		name, path string
		en, zh     string
	}{
		{"device", signin.VerificationPath, "Sign in to your program", "登录您的程序"},
		{"error", signin.ChooserPath + "?flow=isf_unknown", "This sign-in is unknown", "此登录未知"},
		{"signed out", signin.SignedOutPath, "You are signed out. You can close this window.", "您已退出登录。现在可以关闭此窗口。"},
		{"sign-out", signin.SignOutPath + "?org=demo", "You are signed out.", "您已退出登录"},
	}
	for _, p := range pages {
		for _, c := range []struct{ acceptLanguage, query, lang, want string }{
			{"en-GB,en;q=0.9", "", "en", p.en},
			{"zh-CN,zh;q=0.9,en;q=0.8", "", "zh-Hans", p.zh},
			{"", "lang=zh", "zh-Hans", p.zh},
			{"fr-FR", "", "en", p.en},
		} {
			u := srv.AdminURL + p.path
			if c.query != "" {
				u += map[bool]string{true: "&", false: "?"}[strings.Contains(u, "?")] + c.query
			}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if c.acceptLanguage != "" {
				req.Header.Set("Accept-Language", c.acceptLanguage)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(body)
			if !strings.Contains(page, `<html lang="`+c.lang+`">`) || !strings.Contains(page, c.want) {
				t.Errorf("%s (%q %q): want lang %s and %q:\n%s", p.name, c.acceptLanguage, c.query, c.lang, c.want, page)
			}
			h := resp.Header
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: headers %v", p.name, h)
			}
			if strings.Contains(page, "<script") || strings.Contains(page, "<style") || strings.Contains(page, " style=") {
				t.Errorf("%s: the page has script or style", p.name)
			}
		}
	}
}
