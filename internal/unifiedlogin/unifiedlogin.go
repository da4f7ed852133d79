// Package unifiedlogin is a client of the marketplace's unified login
// (联营kit 账号登录): OAuth 2.0 backed by the marketplace's identity
// service, as its SaaS guide publishes it — a login page that sends the
// browser back to the application's registered callback with a code and
// the tenant, a token endpoint that redeems the code or a refresh token
// with the application's client secret, a user-info endpoint that says
// who signed in and in which tenant and organisation, and a logout page.
//
// The guide documents no state parameter, no PKCE and no redirect URI on
// the login page: the callback is the one registered for the application,
// and the code is redeemed with the client secret, so this runs on iscd,
// never in a desktop program.
package unifiedlogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultLoginPage is the marketplace's login page; {appId} is replaced
// by the application's id.
const DefaultLoginPage = "https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId={appId}"

// Paths under the API's base URL ({domain} in the guide).
const (
	TokenPath    = "/api/v1/oauth2/token"
	UserInfoPath = "/api/v1/oauth2/userinfo"
	LogoutPath   = "/api/v1/logout"
)

// maxAnswer bounds what is read of an answer.
const maxAnswer = 64 << 10

// Client speaks to the unified login for one application.
type Client struct {
	// LoginPage is the login page's URL with {appId} in it;
	// DefaultLoginPage when empty.
	LoginPage string
	// API is the base URL of the token, user-info and logout endpoints
	// (https://{domain}).
	API          string
	AppID        string
	ClientID     string
	ClientSecret string
	// HTTP sends the requests; a client with a 10 s timeout when nil.
	HTTP *http.Client
}

// Token is the token endpoint's answer.
type Token struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// UserInfo is who signed in, as the user-info endpoint says.
type UserInfo struct {
	ID               string `json:"id"`
	UserName         string `json:"userName"`
	Name             string `json:"name"`
	Email            string `json:"email"`
	Mobile           string `json:"mobile"`
	Role             string `json:"role"`
	OrganizationName string `json:"organizationName"`
	OrganizationCode string `json:"organizationCode"`
	UserID           string `json:"userId"`
	ProjectName      string `json:"projectName"` // the tenant's name
	Tenant           string `json:"tenant"`      // the tenant's id
}

// Error is an error answer of the unified login.
type Error struct {
	Status      int
	Code        string // "invalid_grant", "unauthorized", ...
	Description string
}

func (e *Error) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("unified login: HTTP %d %s: %s", e.Status, e.Code, e.Description)
	}
	return fmt.Sprintf("unified login: HTTP %d %s", e.Status, e.Code)
}

// LoginURL is the page to send the browser to.
func (c *Client) LoginURL() string {
	page := c.LoginPage
	if page == "" {
		page = DefaultLoginPage
	}
	return strings.ReplaceAll(page, "{appId}", url.QueryEscape(c.AppID))
}

// LogoutURL is the page that signs the browser out of the unified login
// and then sends it to redirect.
func (c *Client) LogoutURL(redirect string) string {
	return strings.TrimSuffix(c.API, "/") + LogoutPath + "?redirect_url=" + url.QueryEscape(redirect)
}

// Exchange redeems the code the login page sent the browser back with.
// redirectURI is sent when not empty (the guide marks it optional).
func (c *Client) Exchange(ctx context.Context, code, redirectURI string) (Token, error) {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if redirectURI != "" {
		f.Set("redirect_uri", redirectURI)
	}
	return c.token(ctx, f)
}

// Refresh trades a refresh token for new tokens.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	return c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

func (c *Client) token(ctx context.Context, f url.Values) (Token, error) {
	var t Token
	f.Set("client_id", c.ClientID)
	f.Set("client_secret", c.ClientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.API, "/")+TokenPath, strings.NewReader(f.Encode()))
	if err != nil {
		return t, fmt.Errorf("unified login: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if err := c.do(req, &t); err != nil {
		return t, err
	}
	if t.AccessToken == "" {
		return t, errors.New("unified login: the token endpoint gave no access_token")
	}
	return t, nil
}

// UserInfo says who accessToken is for.
func (c *Client) UserInfo(ctx context.Context, accessToken string) (UserInfo, error) {
	var u UserInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.API, "/")+UserInfoPath, nil)
	if err != nil {
		return u, fmt.Errorf("unified login: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	return u, c.do(req, &u)
}

// do sends req and decodes a 200 answer into out, or returns an *Error.
func (c *Client) do(req *http.Request, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("unified login: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("unified login: %s: %w", req.URL.Path, err)
	}
	if len(body) > maxAnswer {
		return fmt.Errorf("unified login: %s answered more than %d bytes", req.URL.Path, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: e.Error, Description: e.Description}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("unified login: %s answered no JSON: %w", req.URL.Path, err)
	}
	return nil
}
