//go:build linux

package cabitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/server/federation/hydratest"
)

// The browser sign-in through an organisation's OpenID Connect provider,
// as a user lives it: a C program calls iscsdk_sign_in with flags 0 (the
// browser, the default); the page it names opens in a real (headless)
// Chromium, goes to iscd, on to the organisation's provider (Ory Hydra)
// whose login and consent pages the user answers, back to iscd and to the
// program's loopback, which says the user may close the window; the
// program gets SIGNED_IN with who signed in (the marketplace's user, linked
// by the provider's verified email). The next start is signed in with the
// rotated refresh token and no browser; sign-out ends it. A user the
// marketplace disabled goes through the same pages and the program gets
// ISCSDK_E_DENIED.
func TestBrowserSignInThroughOIDCInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the browser sign-in is not tested in a browser")
	}
	h := hydratest.Start(t)
	ctx, a := context.Background(), admin()
	const org = "mkt-fed-tenant"
	kitSync(t, "tenantSync", map[string]any{"tenantId": "fed-tenant", "name": "Fed tenant", "flag": 1})
	kitSync(t, "authSync", map[string]any{"tenantId": "fed-tenant", "flag": 1, "userList": []map[string]string{
		{"userName": "ada", "name": "Ada Lovelace", "email": "ada@fed.example", "role": "user", "enable": "true"},
		{"userName": "bob", "name": "Bob", "email": "bob@fed.example", "role": "user", "enable": "false"},
	}})
	id, secret := h.Client(t, devEnv["ISCD_ADMIN_URL"]+"/signin/callback")
	if err := a.Do(ctx, "PUT", "/oidc-providers/fed-cabi", adminapi.PutOIDCProvider{OrgID: org, Issuer: h.Issuer,
		ClientID: id, ClientSecret: secret, Domains: []string{"fed.example"}}, nil); err != nil {
		t.Fatalf("configure the provider: %v", err)
	}
	h.AddUser(hydratest.User{Subject: "ada-sub", Email: "ada@fed.example", EmailVerified: true, Name: "Ada L."})
	h.AddUser(hydratest.User{Subject: "bob-sub", Email: "bob@fed.example", EmailVerified: true, Name: "Bob"})

	tab := startChromium(t, bin)
	ws := t.TempDir()
	env := []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + ws, "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="}
	// through the provider's pages, as user; returns the loopback's words
	signIn := func(p *program, user string) string {
		prompt := strings.Fields(p.expect("PROMPT "))
		if len(prompt) != 2 || prompt[0] != "-" || !strings.Contains(prompt[1], "/oauth/authorize?") {
			t.Fatalf("prompt: %v", prompt)
		}
		tab.navigate(prompt[1])
		if got := tab.eval(`document.querySelector("h1").textContent`); got != "Test provider: login" {
			t.Fatalf("not at the provider's login: %q at %s:\n%s", got, tab.eval(`location.href`), tab.eval(`document.body.innerText`))
		}
		tab.eval(`document.getElementById("user").value = "` + user + `"`)
		tab.click(`document.getElementById("ok")`)
		tab.click(`document.getElementById("ok")`) // consent
		if !strings.HasPrefix(tab.eval(`location.href`), "http://127.0.0.1:") || tab.eval(`location.pathname`) != "/callback" {
			t.Fatalf("the browser ended at %s", tab.eval(`location.href`))
		}
		if problems := tab.eval(a11y); problems != "" {
			t.Fatalf("the loopback page's accessibility: %s", problems)
		}
		return tab.eval(`document.getElementById("message").textContent`)
	}

	p := start(t, env, "signin", "browser", org)
	began := time.Now()
	if got := signIn(p, "ada-sub"); !strings.Contains(got, "You are signed in") {
		t.Fatalf("the loopback's page: %q", got)
	}
	who := strings.Fields(p.expect("SIGNED_IN "))
	t.Logf("from the prompt to SIGNED_IN through Hydra's two pages in Chromium: %v", time.Since(began).Round(time.Millisecond))
	if len(who) < 4 || who[1] != "ada@fed.example" || who[2] != org || strings.Join(who[3:], " ") != "Ada Lovelace" {
		t.Fatalf("signed in as %v", who)
	}
	p.stdin.Write([]byte("STAY\n"))
	p.finish()

	p = start(t, env, "signin", "resume")
	if again := strings.Fields(p.expect("SIGNED_IN ")); again[0] != who[0] {
		t.Fatalf("the next start signed in as %v, not %v", again, who)
	}
	p.stdin.Write([]byte("SIGN OUT\n"))
	p.expect("SIGNED_OUT")
	p.finish()

	// With options.login_hint and no organisation, the email's domain
	// leads the browser to the organisation's provider.
	p = start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir(), "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="}, "signin", "browser-hint", "ada@fed.example")
	if got := signIn(p, "ada-sub"); !strings.Contains(got, "You are signed in") {
		t.Fatalf("the loopback's page (login_hint): %q", got)
	}
	if hinted := strings.Fields(p.expect("SIGNED_IN ")); hinted[0] != who[0] {
		t.Fatalf("signed in with login_hint as %v, not %v", hinted, who)
	}
	p.stdin.Write([]byte("STAY\n"))
	p.finish()

	p = start(t, []string{"ISCSDK_TOKEN=", "ISCSDK_WORKSPACE=" + t.TempDir(), "ISCSDK_BROWSER=true", "ISCSDK_NO_BROWSER="}, "signin", "browser-denied", org)
	if got := signIn(p, "bob-sub"); !strings.Contains(got, "You are not signed in") {
		t.Fatalf("the loopback's page for a disabled user: %q", got)
	}
	p.expect("DENIED")
	p.finish()
}
