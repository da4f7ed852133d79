package unifiedlogin_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/iscsdk/iscsdk/internal/unifiedlogin"
	"github.com/iscsdk/iscsdk/internal/unifiedlogin/unifiedlogintest"
)

// signIn posts the login form as a browser would and returns the code and
// tenant the browser is sent back to the callback with.
func signIn(t *testing.T, srv *unifiedlogintest.Server, appID, user, password string) (code, tenant string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(srv.URL+"/unified-login/portal-login", url.Values{"appId": {appID}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", ""
	}
	to, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(to.String(), "https://vendor.example/cb?") {
		t.Fatalf("sent to %s, not the registered callback", to)
	}
	return to.Query().Get("code"), to.Query().Get("tenant")
}

// TestClient: the client against the stand-in — the login page's URL,
// a code redeemed once with the client secret, user info placing the user
// in its tenant, refresh rotating, each refusal as the guide's error
// answer, and the logout URL.
func TestClient(t *testing.T) {
	srv := unifiedlogintest.Start()
	defer srv.Close()
	srv.AddApp(unifiedlogintest.App{AppID: "app-1", ClientID: "client-1", ClientSecret: "s3cret", Callback: "https://vendor.example/cb"})
	srv.AddUser(unifiedlogintest.User{Password: "pw", UserInfo: unifiedlogin.UserInfo{ID: "u1", UserName: "jo", Name: "Jo Smith",
		Email: "jo@acme.example", Role: "admin", OrganizationCode: "eng", Tenant: "T1", ProjectName: "ACME"}})
	c := &unifiedlogin.Client{LoginPage: srv.LoginPage(), API: srv.URL, AppID: "app 1", ClientID: "client-1", ClientSecret: "s3cret"}
	ctx := context.Background()

	if got, want := c.LoginURL(), srv.URL+"/unified-login/#/portal-login?ind=UNOP&appId=app+1"; got != want {
		t.Errorf("LoginURL = %s, want %s", got, want)
	}
	if got := (&unifiedlogin.Client{AppID: "a"}).LoginURL(); got != "https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId=a" {
		t.Errorf("the default login page: %s", got)
	}
	if code, _ := signIn(t, srv, "app-1", "jo", "wrong"); code != "" {
		t.Fatal("a wrong password gave a code")
	}
	code, tenant := signIn(t, srv, "app-1", "jo", "pw")
	if code == "" || tenant != "T1" {
		t.Fatalf("code %q tenant %q", code, tenant)
	}
	wrong := *c
	wrong.ClientSecret = "guess"
	var e *unifiedlogin.Error
	if _, err := wrong.Exchange(ctx, code, ""); !errors.As(err, &e) || e.Code != "invalid_client" {
		t.Fatalf("Exchange with a wrong secret: %v", err)
	}
	tok, err := c.Exchange(ctx, code, "")
	if err != nil || tok.TokenType != "Bearer" || tok.ExpiresIn != 7200 || tok.Scope != "get_user_info" || tok.RefreshToken == "" {
		t.Fatalf("Exchange = %+v, %v", tok, err)
	}
	if _, err := c.Exchange(ctx, code, ""); !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_grant" {
		t.Fatalf("the code again: %v, want 400 invalid_grant", err)
	}
	u, err := c.UserInfo(ctx, tok.AccessToken)
	if err != nil || u.UserName != "jo" || u.Tenant != "T1" || u.OrganizationCode != "eng" || u.Email != "jo@acme.example" {
		t.Fatalf("UserInfo = %+v, %v", u, err)
	}
	next, err := c.Refresh(ctx, tok.RefreshToken)
	if err != nil || next.AccessToken == tok.AccessToken {
		t.Fatalf("Refresh = %+v, %v", next, err)
	}
	if _, err := c.Refresh(ctx, tok.RefreshToken); !errors.As(err, &e) || e.Code != "invalid_grant" {
		t.Fatalf("a rotated refresh token again: %v", err)
	}
	srv.ExpireAccess()
	if _, err := c.UserInfo(ctx, next.AccessToken); !errors.As(err, &e) || e.Status != 401 || e.Code != "unauthorized" {
		t.Fatalf("UserInfo with an expired token: %v, want 401 unauthorized", err)
	}
	if got := c.LogoutURL("https://iscd.example/signin/signed-out?x=1"); got != srv.URL+"/api/v1/logout?redirect_url=https%3A%2F%2Fiscd.example%2Fsignin%2Fsigned-out%3Fx%3D1" {
		t.Errorf("LogoutURL = %s", got)
	}
}
