package sdk

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// LoopbackPageProblems says what is wrong with page as the loopback's
// page in lang ("en", "zh-Hans") showing the message msg names ("" when
// nothing): the language named, the title and the message in it, and no
// word of another language (a string missing from lang's table, or a
// page put together in two languages).
func LoopbackPageProblems(page, lang, msg string) string {
	t := loopbackText[lang]
	var p []string
	if t[msg] == "" {
		return fmt.Sprintf("no %q in %s", msg, lang)
	}
	if !strings.Contains(page, `<html lang="`+lang+`">`) {
		p = append(p, "not <html lang="+lang+">")
	}
	for _, want := range []string{"<title>" + t["title"] + "</title>", "<h1>" + t["title"] + "</h1>",
		`<p id="message" role="status">` + t[msg] + "</p>"} {
		if !strings.Contains(page, want) {
			p = append(p, "no "+want)
		}
	}
	shown := html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " "))
	foreign := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	if lang != "en" {
		foreign = func(r rune) bool { return r < unicode.MaxASCII && unicode.IsLetter(r) }
	}
	if i := strings.IndexFunc(shown, foreign); i >= 0 {
		p = append(p, fmt.Sprintf("another language's words: %q", strings.TrimSpace(shown[i:])))
	}
	return strings.Join(p, "; ")
}

// TestLoopbackTextComplete: every string of the loopback's page exists in
// English and Simplified Chinese and is not empty, every message the
// loopback shows is in the table, and the page it serves for each, in
// each language (the browser's Accept-Language), is whole.
func TestLoopbackTextComplete(t *testing.T) {
	for lang, strs := range loopbackText {
		for key := range loopbackText["en"] {
			if strs[key] == "" {
				t.Errorf("%s: %q is missing", lang, key)
			}
		}
		for key := range strs {
			if _, ok := loopbackText["en"][key]; !ok {
				t.Errorf("%s: %q is not in English", lang, key)
			}
		}
	}
	if _, ok := loopbackText["zh-Hans"]; !ok || len(loopbackText) != 2 {
		t.Fatalf("the loopback's languages: %d, want English and Simplified Chinese", len(loopbackText))
	}

	// The messages browser.go shows.
	src, err := os.ReadFile("browser.go")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`loopbackPage\(w, r, [^,]+, "([A-Za-z]+)"\)|msg :?= "([A-Za-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		used[m[1]+m[2]] = true
	}
	if len(used) != 4 {
		t.Fatalf("browser.go shows %d messages (%v), want notThis, over, signedIn and refused: the pattern misses them", len(used), used)
	}
	for key := range used {
		if _, ok := loopbackText["en"][key]; !ok {
			t.Errorf("browser.go shows %q, which is not in the table", key)
		}
	}

	// Each page, served by the loopback's handler to a browser in each
	// language.
	for acceptLanguage, lang := range map[string]string{"": "en", "en-US,en;q=0.9": "en", "de-DE,de;q=0.9": "en", "zh-CN,zh;q=0.9": "zh-Hans"} {
		get := func(h http.Handler, query string) (int, string) {
			r := httptest.NewRequest("GET", "http://127.0.0.1:1/callback?"+query, nil)
			if acceptLanguage != "" {
				r.Header.Set("Accept-Language", acceptLanguage)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'none'" {
				t.Errorf("%s: the page's policy: %q", acceptLanguage, got)
			}
			return w.Code, w.Body.String()
		}
		answers := make(chan loopbackAnswer, 2)
		h := callbackHandler("st", answers)
		refusing := callbackHandler("st", answers)
		for _, step := range []struct {
			h      http.Handler
			query  string
			status int
			msg    string
		}{
			{h, "code=isz_x_y&state=forged", http.StatusBadRequest, "notThis"},
			{h, "code=isz_x_y&state=st", http.StatusOK, "signedIn"},
			{h, "code=isz_x_y&state=st", http.StatusBadRequest, "over"},
			{refusing, "error=access_denied&state=st", http.StatusOK, "refused"},
		} {
			status, page := get(step.h, step.query)
			if problems := LoopbackPageProblems(page, lang, step.msg); status != step.status || problems != "" {
				t.Errorf("Accept-Language %q, %s: %d (want %d), %s\n%s", acceptLanguage, step.query, status, step.status, problems, page)
			}
		}
		if len(answers) != 2 {
			t.Errorf("Accept-Language %q: %d answers handed to the sign-in, want 2", acceptLanguage, len(answers))
		}
	}
}
