package signin

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// text holds every string of the verification page, per language: English
// and Simplified Chinese. A new language is one more entry.
var text = map[string]map[string]string{
	"en": {
		"title":    "Sign in to your program",
		"intro":    "Your program shows a code. Enter it here to sign the program in as you.",
		"code":     "Code shown by the program",
		"token":    "Your API token",
		"tokenFor": "Sign in with the API token your administrator gave you.",
		"dev":      "Development server: leave the token empty to sign in as the demo user.",
		"approve":  "Sign the program in",
		"withOrg":  "Sign in with your organisation's account instead",
		"deny":     "Deny",
		"approved": "Done. Return to your program: it is signed in.",
		"denied":   "Denied. The program is not signed in.",
		"badCode":  "This code is unknown or has expired. Check it, or start the sign-in again in the program.",
		"badToken": "This API token is not valid.",
		"noToken":  "Enter your API token.",
		"tooMany":  "Too many wrong codes. Wait ten minutes, then try again.",
		"check":    "Sign in %s as %s (%s)? The program asked %d minutes ago. Confirm only if you started this sign-in yourself: someone who sends you a code wants your access.",
		"confirm":  "Yes, sign it in",
		// The browser sign-in (/signin).
		"signIn":       "Sign in",
		"email":        "Your work email",
		"emailFor":     "You will sign in with your organisation's account.",
		"next":         "Continue",
		"or":           "Or sign in with an API token",
		"noProvider":   "No organisation signs in with this email here. Check it, or sign in with an API token.",
		"otherOrg":     "The program asked for a user of another organisation.",
		"badFlow":      "This sign-in is unknown, was used already, or has expired. Start it again in your program.",
		"badClient":    "The program that sent you here is not known to this service.",
		"badRedirect":  "The program asked to be answered somewhere other than this computer: refused.",
		"refused":      "The sign-in was refused. Ask your administrator whether your account may sign in.",
		"failed":       "The service failed. Try again.",
		"providerDown": "Your organisation's sign-in service does not answer. Try again later.",
		"signedOut":    "You are signed out. You can close this window.",
	},
	"zh-Hans": {
		"title":        "登录您的程序",
		"intro":        "您的程序显示了一个代码。在此输入该代码，即以您的身份登录该程序。",
		"code":         "程序显示的代码",
		"token":        "您的 API 令牌",
		"tokenFor":     "使用管理员提供给您的 API 令牌登录。",
		"dev":          "开发服务器：令牌留空即以演示用户登录。",
		"approve":      "登录该程序",
		"withOrg":      "改用您所在组织的账号登录",
		"deny":         "拒绝",
		"approved":     "完成。请返回您的程序：它已登录。",
		"denied":       "已拒绝。该程序未登录。",
		"badCode":      "此代码未知或已过期。请检查，或在程序中重新开始登录。",
		"badToken":     "此 API 令牌无效。",
		"noToken":      "请输入您的 API 令牌。",
		"tooMany":      "错误代码过多。请等待十分钟后再试。",
		"check":        "以 %[2]s（%[3]s）的身份登录 %[1]s？该程序在 %[4]d 分钟前发出请求。仅当此登录是您本人发起时才确认：向您发送代码的人想获取您的访问权限。",
		"confirm":      "是，登录",
		"signIn":       "登录",
		"email":        "您的工作邮箱",
		"emailFor":     "您将使用所在组织的账号登录。",
		"next":         "继续",
		"or":           "或使用 API 令牌登录",
		"noProvider":   "此处没有使用该邮箱登录的组织。请检查，或使用 API 令牌登录。",
		"otherOrg":     "程序要求另一个组织的用户登录。",
		"badFlow":      "此登录未知、已被使用或已过期。请在程序中重新开始。",
		"badClient":    "将您转到此处的程序不为本服务所知。",
		"badRedirect":  "程序要求将结果发送到本计算机以外的地方：已拒绝。",
		"refused":      "登录被拒绝。请询问管理员您的账号是否可以登录。",
		"failed":       "服务出错。请重试。",
		"providerDown": "您所在组织的登录服务没有响应。请稍后再试。",
		"signedOut":    "您已退出登录。现在可以关闭此窗口。",
	},
}

// lang picks the page's language: ?lang=, then Accept-Language.
func lang(r *http.Request) string {
	l := r.URL.Query().Get("lang")
	if l == "" {
		l = r.FormValue("lang")
	}
	if l == "" {
		l = r.Header.Get("Accept-Language")
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(l)), "zh") {
		return "zh-Hans"
	}
	return "en"
}

// layoutTmpl is the frame of the sign-in's pages: each page defines its
// "title" and its "main" (what follows the title and the status message)
// on a clone, and may use "token", the API token's field. Their data have
// Lang, T (the page's words), Message and Dev.
var layoutTmpl = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{template "title" .}}</title></head>
<body>
<main>
<h1>{{template "title" .}}</h1>
{{if .Message}}<p role="status" id="message">{{.Message}}</p>{{end}}
{{template "main" .}}</main>
</body>
</html>
{{define "token"}}<p><label for="api_token">{{.T.token}}</label><br>
<input id="api_token" name="api_token" type="password" maxlength="256" autocomplete="off" aria-describedby="token_help"><br>
<small id="token_help">{{.T.tokenFor}}{{if .Dev}} {{.T.dev}}{{end}}</small></p>{{end}}`))

// page is a page of the sign-in on layoutTmpl: title, then main.
func page(title, main string) *template.Template {
	return template.Must(template.Must(layoutTmpl.Clone()).Parse(`{{define "title"}}` + title + `{{end}}{{define "main"}}` + main + `{{end}}`))
}

var pageTmpl = page(`{{.T.title}}`, `{{if .Nonce}}
<form method="post" action="/device">
<input type="hidden" name="lang" value="{{.Lang}}">
<input type="hidden" name="user_code" value="{{.Code}}">
<input type="hidden" name="nonce" value="{{.Nonce}}">
<p><button type="submit" name="action" value="approve">{{.T.confirm}}</button>
<button type="submit" name="action" value="deny">{{.T.deny}}</button></p>
</form>
{{else if not .Done}}
<p>{{.T.intro}}</p>
<form method="post" action="/device">
<input type="hidden" name="lang" value="{{.Lang}}">
{{if .Org}}<input type="hidden" name="org" value="{{.Org}}">{{end}}
<p><label for="user_code">{{.T.code}}</label><br>
<input id="user_code" name="user_code" value="{{.Code}}" required maxlength="16" autocomplete="off" autocapitalize="characters" spellcheck="false"></p>
{{template "token" .}}
<p><button type="submit" name="action" value="approve">{{.T.approve}}</button>
<button type="submit" name="action" value="deny">{{.T.deny}}</button></p>
{{if .Federated}}<p><button type="submit" name="action" value="organisation" formnovalidate>{{.T.withOrg}}</button></p>{{end}}
</form>
{{end}}
`)

type pageData struct {
	Lang    string
	T       map[string]string
	Code    string
	Message string
	Done    bool
	Dev     bool
	Nonce   string // the confirmation step's
	// Federated: identity providers are configured, the page offers
	// signing in through one instead of an API token.
	Federated bool
	// Org: the organisation the program named (?org= of the page's
	// address): signing in through the organisation goes to its provider.
	// Taken from the address, not the grant, which the page does not look
	// at before a user is known.
	Org string
}

// pageOrg is a page's ?org= (or the form's org), if it can be an
// organisation id.
func pageOrg(r *http.Request) string {
	org := r.FormValue("org")
	if org == "" || len(org) > 64 || strings.ContainsAny(org, "/?#&<>\"\x00") {
		return ""
	}
	return org
}

func (s *Service) render(w http.ResponseWriter, status int, d pageData) {
	pageHeaders(w)
	if d.Federated && d.Nonce == "" && !d.Done {
		// "Sign in with your organisation's account" posts here and is
		// redirected on to the provider: form-action governs redirects
		// too (as on the chooser).
		w.Header().Set("Content-Security-Policy", chooserCSP)
	}
	w.WriteHeader(status)
	pageTmpl.Execute(w, d)
}

// chooserCSP is the policy of a page whose form may end at an identity
// provider (https) or a program's loopback.
const chooserCSP = "default-src 'none'; form-action 'self' https: http://127.0.0.1:* http://[::1]:*; frame-ancestors 'none'; base-uri 'none'"

// pageHeaders are every sign-in page's.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No script, no style, no frame: the page is a form and nothing else.
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	l := lang(r)
	code := r.URL.Query().Get("user_code")
	if grantID(code) == "" {
		code = "" // only a code's characters go back into the page
	}
	s.render(w, http.StatusOK, pageData{Lang: l, T: text[l], Code: code, Dev: s.cfg.DevUserID != "", Federated: len(s.kinds()) > 0, Org: pageOrg(r)})
}

var errBadCode = errors.New("unknown or expired user code")

// confirm answers the page's forms. The first (a code, the user's sign-in,
// approve or deny) denies at once, or asks the user to check what they
// are approving: the product, whom as, how long ago it asked — a code
// someone else sent is how a device grant is phished (RFC 8628 5.4). The
// second (the code, that step's one-time nonce, approve or deny) answers
// the grant as that user.
func (s *Service) confirm(w http.ResponseWriter, r *http.Request) {
	if err := readForm(w, r); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	l := lang(r)
	d := pageData{Lang: l, T: text[l], Dev: s.cfg.DevUserID != "", Federated: len(s.kinds()) > 0, Org: pageOrg(r)}
	code := r.PostForm.Get("user_code")
	if grantID(code) != "" {
		d.Code = code
	}
	action := r.PostForm.Get("action")
	if action == "organisation" {
		// Who confirms is asked of the organisation's provider: the
		// browser comes back to deviceSignedIn with the code. The grant is
		// not looked at before a user is known (that would tell anyone
		// which codes exist).
		s.BeginSignIn(w, r, deviceThen, d.Code, d.Org)
		return
	}
	if action != "approve" && action != "deny" {
		http.Error(w, "action: approve, deny or organisation", http.StatusBadRequest)
		return
	}
	if nonce := r.PostForm.Get("nonce"); nonce != "" {
		s.answer(w, r, d, nonce, action == "approve")
		return
	}
	u, msg := s.pageUser(r.Context(), r.PostForm.Get("api_token"))
	if msg != "" {
		d.Message = d.T[msg]
		s.render(w, http.StatusUnauthorized, d)
		return
	}
	s.firstStep(w, r, d, u, action)
}

// deviceThen names the device page's browser sign-ins (OnSignedIn).
const deviceThen = "device"

// deviceSignedIn is where a user who signed in through their
// organisation's provider from the device page comes back: to the
// confirmation step for the code they entered.
func (s *Service) deviceSignedIn(w http.ResponseWriter, r *http.Request, u store.User, code string) {
	l := lang(r)
	d := pageData{Lang: l, T: text[l], Dev: s.cfg.DevUserID != ""}
	if grantID(code) != "" {
		d.Code = code
	}
	s.firstStep(w, r, d, u, "approve")
}

// firstStep answers the device page's first form for user u: deny at
// once, or show what approving would sign in, with the nonce of the
// second step.
func (s *Service) firstStep(w http.ResponseWriter, r *http.Request, d pageData, u store.User, action string) {
	code := d.Code
	if s.wrong.over(u.ID) {
		d.Message = d.T["tooMany"]
		w.Header().Set("Retry-After", "600")
		s.render(w, http.StatusTooManyRequests, d)
		return
	}
	id := grantID(code)
	if id == "" {
		s.wrong.add(u.ID)
		d.Message = d.T["badCode"]
		s.render(w, http.StatusBadRequest, d)
		return
	}
	now := s.cfg.Now()
	nonce, nonceHash := token.NewWithID(prefixNonce, id)
	g, err := s.st.UpdateDeviceGrant(r.Context(), id, func(g *store.DeviceGrant) error {
		// Another org's code reads as an unknown one: the page tells
		// nobody which codes exist.
		if g.State != store.GrantPending || now.After(g.Expires) || (g.OrgID != "" && g.OrgID != u.OrgID) {
			return errBadCode
		}
		if action == "deny" {
			g.UserID, g.State = u.ID, store.GrantDenied
			return nil
		}
		g.ConfirmUser, g.ConfirmHash = u.ID, nonceHash
		return nil
	})
	if s.failed(w, d, u.ID, err) {
		return
	}
	if action == "deny" {
		s.log.Info("sign-in: device grant denied", "user", u.ID)
		d.Done, d.Message = true, d.T["denied"]
		s.render(w, http.StatusOK, d)
		return
	}
	product := g.ProductID
	if p, err := s.st.Product(r.Context(), g.ProductID); err == nil && p.Name != "" {
		product = p.Name
	}
	org := u.OrgID
	if o, err := s.st.Org(r.Context(), u.OrgID); err == nil && o.Name != "" {
		org = o.Name
	}
	d.Nonce = nonce
	d.Message = fmt.Sprintf(d.T["check"], product, u.Name, org, int(now.Sub(g.Created)/time.Minute))
	s.render(w, http.StatusOK, d)
}

// prefixNonce marks the confirmation step's one-time nonce.
const prefixNonce = "isn"

// answer is the second step: the nonce stands for the user who was shown
// what the grant is for.
func (s *Service) answer(w http.ResponseWriter, r *http.Request, d pageData, nonce string, approve bool) {
	id, secret, err := token.Parse(prefixNonce, nonce)
	if err != nil || id != grantID(d.Code) {
		http.Error(w, "nonce: not this code's", http.StatusBadRequest)
		return
	}
	now := s.cfg.Now()
	var who string
	_, err = s.st.UpdateDeviceGrant(r.Context(), id, func(g *store.DeviceGrant) error {
		if g.State != store.GrantPending || now.After(g.Expires) || g.ConfirmHash == "" || !token.Verify(secret, g.ConfirmHash) {
			return errBadCode
		}
		who = g.ConfirmUser
		g.UserID, g.ConfirmHash = g.ConfirmUser, ""
		g.State = store.GrantDenied
		if approve {
			g.State = store.GrantApproved
		}
		return nil
	})
	if s.failed(w, d, "", err) {
		return
	}
	s.log.Info("sign-in: device grant answered", "user", who, "approved", approve)
	d.Done, d.Message = true, d.T["denied"]
	if approve {
		d.Message = d.T["approved"]
	}
	s.render(w, http.StatusOK, d)
}

// failed answers a failed grant update, counting a wrong code against
// user (when known), and reports whether it did.
func (s *Service) failed(w http.ResponseWriter, d pageData, user string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, errBadCode) || errors.Is(err, store.ErrNotFound):
		if user != "" {
			s.wrong.add(user) // codes are guessed one wrong answer at a time
		}
		d.Message = d.T["badCode"]
		s.render(w, http.StatusBadRequest, d)
	default:
		s.log.Error("sign-in: confirm a user code", "err", err)
		http.Error(w, "iscd failed; try again", http.StatusServiceUnavailable)
	}
	return true
}

// pageUser is who is confirming: the owner of a pasted API token, or, on
// a dev server, the dev user. This is the seam where federation (OpenID
// Connect, the marketplace's unified login) comes in. msg names the
// refusal's text.
func (s *Service) pageUser(ctx context.Context, apiToken string) (u store.User, msg string) {
	if apiToken == "" {
		if s.cfg.DevUserID == "" {
			return u, "noToken"
		}
		u, err := s.allowed(ctx, s.cfg.DevUserID)
		if err != nil {
			return u, "badToken"
		}
		return u, ""
	}
	if !strings.HasPrefix(apiToken, token.PrefixAPI+"_") { // not a program's access token
		return u, "badToken"
	}
	id, err := s.auth.Authenticate(ctx, apiToken)
	if err != nil {
		return u, "badToken"
	}
	if u, err = s.allowed(ctx, id.UserID); err != nil {
		return u, "badToken"
	}
	return u, ""
}

var chooserTmpl = page(`{{.T.signIn}}`, `{{if .Flow}}
<form method="post" action="/signin">
<input type="hidden" name="lang" value="{{.Lang}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<p><label for="email">{{.T.email}}</label><br>
<input id="email" name="email" type="email" value="{{.Email}}" maxlength="256" autocomplete="email" aria-describedby="email_help"><br>
<small id="email_help">{{.T.emailFor}}</small></p>
<p><button type="submit" id="next">{{.T.next}}</button></p>
</form>
<form method="post" action="/signin">
<input type="hidden" name="lang" value="{{.Lang}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<h2>{{.T.or}}</h2>
{{template "token" .}}
<p><button type="submit" id="with_token">{{.T.signIn}}</button></p>
</form>
{{end}}
`)

type chooserData struct {
	Lang    string
	T       map[string]string
	Flow    string
	Email   string
	Message string
	Dev     bool
}

// renderChooser shows the browser sign-in's page for flow tok, with the
// message msg names ("" none).
func (s *Service) renderChooser(w http.ResponseWriter, r *http.Request, status int, tok, email, msg string) {
	l := lang(r)
	d := chooserData{Lang: l, T: text[l], Flow: tok, Email: email, Dev: s.cfg.DevUserID != ""}
	if msg != "" {
		d.Message = d.T[msg]
	}
	pageHeaders(w)
	// Its forms end elsewhere: at the organisation's provider (https), or,
	// signed in with a token, at the program's loopback.
	w.Header().Set("Content-Security-Policy", chooserCSP)
	w.WriteHeader(status)
	chooserTmpl.Execute(w, d)
}

// pageError shows a browser sign-in's failure, in words msg names.
func (s *Service) pageError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.renderChooser(w, r, status, "", "", msg)
}
