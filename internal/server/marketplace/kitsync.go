package marketplace

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha1" // MGF1-SHA-1
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/iscsdk/iscsdk/internal/envelope"
	"github.com/iscsdk/iscsdk/internal/store"
)

// SyncPrefix is where iscd serves the 联营kit sync interfaces by default:
// SyncPrefix + "tenantSync", "applicationSync", "authSync",
// "singleOrgSync" and "allOrgSync" (POST only).
const SyncPrefix = "/produceAPI/v2/"

// MaxSyncUsers is the most users one authSync call may carry.
const MaxSyncUsers = 500

// MaxSyncBody is the largest sync call read. It is larger than the
// production interface's MaxBody: 500 users with every field the guide
// lists (names, position, employee code, mobile, email, work place) are
// 110 to 130 KB of JSON, more with long Chinese names.
const MaxSyncBody = 256 << 10

// Result codes of the sync interfaces beside the production interface's
// (ResultOK, ResultAuth, ResultBadParams, ResultInternal).
const (
	// ResultUnknownTenant: the call names a tenant no tenantSync added.
	ResultUnknownTenant = "000003"
	// ResultBadTree: singleOrgSync or allOrgSync would make the
	// department tree wrong: a parent that does not exist, a cycle, or a
	// department deleted while it has children.
	ResultBadTree = "000006"
)

// SyncConfig configures the sync interfaces. The zero SyncConfig is off.
type SyncConfig struct {
	// KitKey is the 联营kit's key, distinct from the production
	// interface's access key. Never logged.
	KitKey string
	// PrivateKey decrypts applicationSync's clientSecret (RSA-OAEP, at
	// least 3072 bits); nil refuses applicationSync.
	PrivateKey *rsa.PrivateKey
	// KEK seals the client secrets at rest; nil refuses applicationSync.
	KEK envelope.Wrapper
	// Prefix is where the interfaces are served; "" means SyncPrefix.
	Prefix string
	// Sign is how x-sign covers the body, the point of the guide that
	// was cut: SignBody ("": the copied formula) or SignBodyHMAC.
	Sign string
}

// The ways x-sign may cover a sync call's body (SyncConfig.Sign).
const (
	// SignBody: hex(HMAC-SHA256(kitKey, kitKey + nonce + timestamp +
	// body)), the formula the guide's copy gives.
	SignBody = "body"
	// SignBodyHMAC: the production interface's shape, the body replaced
	// by hex(HMAC-SHA256(kitKey, body)).
	SignBodyHMAC = "body-hmac"
)

// String describes c without its keys.
func (c SyncConfig) String() string {
	return "marketplace sync{key=" + boolString(c.KitKey != "") + " privateKey=" + boolString(c.PrivateKey != nil) + " prefix=" + c.Prefix + " sign=" + c.Sign + "}"
}

// GoString is String, so that %#v does not print the keys either.
func (c SyncConfig) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the keys.
func (c SyncConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("key", c.KitKey != ""), slog.Bool("privateKey", c.PrivateKey != nil), slog.String("prefix", c.Prefix))
}

// Sessions ends users' sessions: the hub (session.Hub.EndUsers) does it
// on every replica and frees what they held.
type Sessions interface {
	EndUsers(ctx context.Context, reason string, userIDs ...string) int
}

// Sync serves the 联营kit sync interfaces: the marketplace pushes the
// tenants that bought the application, its login credentials, the users
// it authorises and the department tree (docs/identity.md).
type Sync struct {
	cfg      SyncConfig
	st       SyncStore
	sessions Sessions
	log      *slog.Logger
	now      func() time.Time
	slots    chan struct{}
	// mu serialises calls on this replica: a retry may arrive while the
	// first attempt runs. The store's transactions keep replicas right.
	mu sync.Mutex
}

// SyncStore is the part of iscd's store the sync interfaces use: the
// directory, the identity records (tenants, departments, logins) and the
// replay cache of signed calls.
type SyncStore interface {
	store.Directory
	store.Identity
	requests
}

// NewSync returns the sync interfaces' handler; it needs a kit key.
func NewSync(cfg SyncConfig, st SyncStore, sessions Sessions, log *slog.Logger) (*Sync, error) {
	if cfg.KitKey == "" {
		return nil, errors.New("marketplace sync: no kit key")
	}
	if cfg.PrivateKey != nil && cfg.PrivateKey.N.BitLen() < 3072 {
		return nil, fmt.Errorf("marketplace sync: the kit private key has %d bits; the marketplace wants at least 3072", cfg.PrivateKey.N.BitLen())
	}
	if cfg.Prefix == "" {
		cfg.Prefix = SyncPrefix
	}
	switch cfg.Sign {
	case "":
		cfg.Sign = SignBody
	case SignBody, SignBodyHMAC:
	default:
		return nil, fmt.Errorf("marketplace sync: signature %q: want %s or %s", cfg.Sign, SignBody, SignBodyHMAC)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sync{cfg: cfg, st: st, sessions: sessions, log: log, now: func() time.Time { return time.Now().UTC() },
		slots: make(chan struct{}, DefaultMaxConcurrent)}, nil
}

// Prefix is the path the handler is to be mounted at.
func (s *Sync) Prefix() string { return s.cfg.Prefix }

// SyncSign returns the x-sign header of a sync call signed with SignBody:
// hex(HMAC-SHA256(kitKey, kitKey + nonce + timestamp + body)).
func SyncSign(kitKey, nonce, timestamp string, body []byte) string {
	return hex.EncodeToString(syncSignature(SignBody, kitKey, nonce, timestamp, body))
}

// SyncSignWith is SyncSign for either way of covering the body.
func SyncSignWith(how, kitKey, nonce, timestamp string, body []byte) string {
	return hex.EncodeToString(syncSignature(how, kitKey, nonce, timestamp, body))
}

func syncSignature(how, kitKey, nonce, timestamp string, body []byte) []byte {
	if how == SignBodyHMAC {
		return signature(kitKey, nonce, timestamp, body)
	}
	m := hmac.New(sha256.New, []byte(kitKey))
	m.Write([]byte(kitKey + nonce + timestamp))
	m.Write(body)
	return m.Sum(nil)
}

// LoadKitKey reads the PEM file of the RSA private key that decrypts
// applicationSync's client secrets (PKCS#8 or PKCS#1).
func LoadKitKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kit private key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("kit private key %s: no PEM block", path)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("kit private key %s: %w", path, err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("kit private key %s: not an RSA key", path)
	}
	if rk.N.BitLen() < 3072 {
		return nil, fmt.Errorf("kit private key %s: %d bits; at least 3072 are needed", path, rk.N.BitLen())
	}
	return rk, nil
}

// syncReply is every sync answer's shape.
type syncReply struct {
	ResultCode string `json:"resultCode"`
	ResultMsg  string `json:"resultMsg"`
}

// ServeHTTP answers one sync call: HTTP 200 with a resultCode, except
// for a call that cannot be read (too large, too slow, too many), as the
// production interface does.
func (s *Sync) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(DefaultReadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(2 * DefaultReadTimeout))
	name := strings.TrimPrefix(r.URL.Path, s.cfg.Prefix)
	var status int
	var rep syncReply
	select {
	case s.slots <- struct{}{}:
		status, rep = s.serve(r, name)
		<-s.slots
	default:
		status, rep = http.StatusServiceUnavailable, syncReply{ResultInternal, "too many calls at once; retry later"}
		w.Header().Set("Retry-After", "1")
	}
	if rep.ResultCode != ResultOK {
		s.log.Info("marketplace sync refused", "interface", name, "code", rep.ResultCode, "msg", rep.ResultMsg, "status", status, "remote", r.RemoteAddr)
	}
	writeReply(w, r, rc, status, rep)
}

func (s *Sync) serve(r *http.Request, name string) (int, syncReply) {
	body, status, msg := readBody(r, MaxSyncBody)
	if status != http.StatusOK {
		return status, syncReply{ResultAuth, msg}
	}
	// The signature covers the body only, not the path: a call is bound
	// to its interface by its replay key, which every interface shares.
	nonce, ts := r.Header.Get("x-nonce"), r.Header.Get("x-timestamp")
	now := s.now()
	sig, at, err := checkSigned(r.Header.Get("x-sign"), nonce, ts, now, func() []byte { return syncSignature(s.cfg.Sign, s.cfg.KitKey, nonce, ts, body) })
	if err != nil {
		return http.StatusOK, syncReply{ResultAuth, "authentication failed: " + err.Error()}
	}
	// From here the call runs to its end even if the marketplace hangs
	// up: what it stores, and the sessions it ends, go together.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), syncTimeout)
	defer cancel()
	if err := remember(ctx, s.st, sig, at, now); err != nil {
		if errors.Is(err, errReplay) {
			return http.StatusOK, syncReply{ResultAuth, "authentication failed: " + err.Error()}
		}
		s.log.Error("marketplace replay cache", "err", err)
		return http.StatusOK, syncReply{ResultInternal, "internal error; retry later"}
	}
	run, ok := map[string]func(context.Context, []byte) error{
		"tenantSync": s.tenantSync, "applicationSync": s.applicationSync, "authSync": s.authSync,
		"singleOrgSync": s.singleOrgSync, "allOrgSync": s.allOrgSync,
	}[name]
	if !ok {
		return http.StatusOK, syncReply{ResultBadParams, fmt.Sprintf("no sync interface %.40q", name)}
	}
	if !utf8.Valid(body) {
		return http.StatusOK, syncReply{ResultBadParams, "request body is not valid UTF-8"}
	}
	s.mu.Lock()
	err = run(ctx, body)
	s.mu.Unlock()
	var f *failure
	switch {
	case err == nil:
		s.log.Info("marketplace sync", "interface", name)
		return http.StatusOK, syncReply{ResultOK, "Success"}
	case errors.As(err, &f):
		return http.StatusOK, syncReply{f.code, f.msg}
	default:
		s.log.Error("marketplace sync failed", "interface", name, "err", err)
		return http.StatusOK, syncReply{ResultInternal, "internal error; retry later"}
	}
}

// syncTimeout bounds one call's work once it is authenticated.
const syncTimeout = 30 * time.Second

// flexInt is a number the guide's examples send as a number or a string.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = -1
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a small number, got %.20s", b)
	}
	*f = flexInt(n)
	return nil
}

// flexBool is "true"/"false" (the guide) or a JSON boolean.
type flexBool struct{ set, v bool }

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(b), `"`) {
	case "true":
		*f = flexBool{true, true}
	case "false":
		*f = flexBool{true, false}
	case "", "null":
		*f = flexBool{}
	default:
		return fmt.Errorf(`enable must be "true" or "false", got %.20s`, b)
	}
	return nil
}

// Flags of the sync interfaces.
const (
	flagDelete = 0
	flagAdd    = 1
	flagModify = 2
	flagRevoke = 3 // authSync only
)

type syncCommon struct {
	InstanceID string  `json:"instanceId"`
	TenantID   string  `json:"tenantId"`
	TestFlag   flexInt `json:"testFlag"`
	TimeStamp  string  `json:"timeStamp"`
}

// at is when the marketplace made the call: its timeStamp,
// yyyyMMddHHmmssSSS in UTC+8 (or without the milliseconds). Zero when it
// is missing or in another form: such a call is applied in arrival order.
func (c syncCommon) at() time.Time {
	ts, layout := c.TimeStamp, "20060102150405"
	if len(ts) == 17 { // with milliseconds, which the layout wants after a dot
		ts, layout = ts[:14]+"."+ts[14:], layout+".000"
	}
	t, err := time.ParseInLocation(layout, ts, chinaTime)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

var chinaTime = time.FixedZone("UTC+8", 8*3600)

// stale reports whether a call made at (zero: unknown) is older than
// what set a record at synced: a late retry that must not undo it.
func stale(at, synced time.Time) bool {
	return !at.IsZero() && at.Before(synced)
}

// syncField bounds every string the interfaces store.
const syncField = 256

var codePattern = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`)

func decode(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		return refuse(ResultBadParams, "request body is not the expected JSON object: "+err.Error())
	}
	if dec.More() {
		return refuse(ResultBadParams, "trailing data after the JSON object")
	}
	return nil
}

func checkText(name, v string, required bool) error {
	switch {
	case required && v == "":
		return refuse(ResultBadParams, "missing "+name)
	case len(v) > syncField:
		return refuse(ResultBadParams, fmt.Sprintf("%s longer than %d bytes", name, syncField))
	}
	return nil
}

func checkCode(name, v string) error {
	if !codePattern.MatchString(v) {
		return refuse(ResultBadParams, name+" must be 1 to 128 letters, digits or _.:@-")
	}
	return nil
}

// checkTenant accepts the tenant ids the production interface accepts as
// customers (customerPattern): the organisation's id is made of it, and
// ids name directories.
func checkTenant(id string) error {
	if !customerPattern.MatchString(id) {
		return refuse(ResultBadParams, "tenantId must be 1 to 64 letters, digits, '_' or '-'")
	}
	return nil
}

// tenantOrg is the organisation of a tenant: the one the production
// interface puts the tenant's licences in.
func tenantOrg(tenantID string) string { return "mkt-" + tenantID }

// knownTenant returns the org of a tenant that tenantSync added.
func (s *Sync) knownTenant(ctx context.Context, tenantID string) (store.Org, error) {
	if err := checkTenant(tenantID); err != nil {
		return store.Org{}, err
	}
	o, err := s.st.Org(ctx, tenantOrg(tenantID))
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.Closed) {
		return o, refuse(ResultUnknownTenant, "unknown tenant "+tenantID+" (no tenantSync added it, or it was deleted)")
	}
	return o, err
}

type tenantSyncReq struct {
	syncCommon
	OrderID    string  `json:"orderId"`
	TenantCode string  `json:"tenantCode"`
	Name       string  `json:"name"`
	DomainName string  `json:"domainName"`
	Flag       flexInt `json:"flag"`
}

// tenantSync adds, changes or deletes (closes) the organisation of a
// tenant. A deleted tenant's users' sessions end and their tokens are
// refused; its records stay, and adding it again reopens it.
func (s *Sync) tenantSync(ctx context.Context, body []byte) error {
	var req tenantSyncReq
	if err := decode(body, &req); err != nil {
		return err
	}
	if err := checkTenant(req.TenantID); err != nil {
		return err
	}
	for n, v := range map[string]string{"name": req.Name, "tenantCode": req.TenantCode, "domainName": req.DomainName, "instanceId": req.InstanceID, "orderId": req.OrderID} {
		if err := checkText(n, v, false); err != nil {
			return err
		}
	}
	id := tenantOrg(req.TenantID)
	at := req.at()
	tenant := &store.Tenant{TenantID: req.TenantID, TenantCode: req.TenantCode, DomainName: req.DomainName,
		InstanceID: req.InstanceID, OrderID: req.OrderID, Test: req.TestFlag == 1, SyncedAt: at}
	switch req.Flag {
	case flagAdd, flagModify:
		name := req.Name
		if name == "" {
			name = "Marketplace tenant " + req.TenantID
		}
		err := s.st.CreateOrg(ctx, store.Org{ID: id, Name: name, Created: s.now(), Tenant: tenant})
		if err == nil || !errors.Is(err, store.ErrExists) {
			return err
		}
		return s.st.UpdateOrg(ctx, id, func(o *store.Org) error {
			if o.Tenant != nil && stale(at, o.Tenant.SyncedAt) {
				return nil // a late retry: a newer call set the tenant
			}
			if req.Name != "" {
				o.Name = req.Name
			}
			o.Tenant, o.Closed = tenant, false
			return nil
		})
	case flagDelete:
		late := false
		err := s.st.UpdateOrg(ctx, id, func(o *store.Org) error {
			if o.Tenant != nil && stale(at, o.Tenant.SyncedAt) {
				late = true
				return nil
			}
			o.Closed = true
			if o.Tenant != nil && !at.IsZero() {
				o.Tenant.SyncedAt = at
			}
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleting what is not there: done (a retry)
		}
		if err != nil || late {
			return err
		}
		users, err := s.st.Users(ctx, id)
		if err != nil {
			return err
		}
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		s.sessions.EndUsers(ctx, "the organisation was removed by the marketplace", ids...)
		return nil
	}
	return refuse(ResultBadParams, "flag must be 0 (delete), 1 (add) or 2 (modify)")
}

type applicationSyncReq struct {
	syncCommon
	AppID        string  `json:"appId"`
	ClientID     string  `json:"clientId"`
	ClientSecret string  `json:"clientSecret"`
	Flag         flexInt `json:"flag"`
}

// applicationSync stores the tenant's unified-login client: the secret is
// decrypted with the kit private key and sealed under the KEK.
func (s *Sync) applicationSync(ctx context.Context, body []byte) error {
	var req applicationSyncReq
	if err := decode(body, &req); err != nil {
		return err
	}
	o, err := s.knownTenant(ctx, req.TenantID)
	if err != nil {
		return err
	}
	for n, v := range map[string]string{"appId": req.AppID, "clientId": req.ClientID} {
		if err := checkText(n, v, req.Flag != flagDelete); err != nil {
			return err
		}
	}
	now := s.now()
	switch req.Flag {
	case flagDelete:
		l, err := s.st.OrgLogin(ctx, o.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		l.Deleted, l.Updated = true, now
		return s.st.PutOrgLogin(ctx, l)
	case flagAdd, flagModify:
	default:
		return refuse(ResultBadParams, "flag must be 0 (delete), 1 (add) or 2 (modify)")
	}
	if s.cfg.PrivateKey == nil || s.cfg.KEK == nil {
		return refuse(ResultInternal, "this service has no kit private key (iscd serve --kit-private-key) or no KEK to keep the client secret")
	}
	if len(req.ClientSecret) > 4096 {
		return refuse(ResultBadParams, "clientSecret longer than 4096 characters")
	}
	secret, err := decryptSecret(s.cfg.PrivateKey, req.ClientSecret)
	if err != nil {
		return refuse(ResultBadParams, "clientSecret: "+err.Error())
	}
	sealed, err := envelope.Seal(ctx, s.cfg.KEK, secret, loginAAD(o.ID))
	if err != nil {
		return fmt.Errorf("seal the client secret of %s: %w", o.ID, err)
	}
	return s.st.PutOrgLogin(ctx, store.OrgLogin{OrgID: o.ID, AppID: req.AppID, ClientID: req.ClientID,
		SealedSecret: sealed, Test: req.TestFlag == 1, Updated: now})
}

// loginAAD binds a sealed client secret to its organisation.
func loginAAD(orgID string) []byte { return []byte("iscd-org-login-secret\n" + orgID) }

// OpenLoginSecret returns an organisation's client secret in clear, for
// the unified login.
func OpenLoginSecret(ctx context.Context, kek envelope.Wrapper, l store.OrgLogin) ([]byte, error) {
	return envelope.Open(ctx, kek, l.SealedSecret, loginAAD(l.OrgID))
}

// RewrapLoginSecrets re-wraps every organisation's sealed client secret
// under kek's current KEK: with the licence signing keys, the second step
// of a KEK rotation, before the old KEK is retired. It returns how many
// it re-wrapped; a secret that does not open is an error (retiring would
// lose it).
func RewrapLoginSecrets(ctx context.Context, st SyncStore, kek envelope.Wrapper) (int, error) {
	orgs, err := st.Orgs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range orgs {
		if o.Tenant == nil {
			continue // only a tenant's organisation has a login (applicationSync)
		}
		l, err := st.OrgLogin(ctx, o.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		sealed, changed, err := envelope.Rewrap(ctx, kek, l.SealedSecret, loginAAD(l.OrgID))
		if err != nil {
			return n, fmt.Errorf("re-wrap the client secret of %s: %w", o.ID, err)
		}
		if !changed {
			continue
		}
		l.SealedSecret = sealed
		if err := st.PutOrgLogin(ctx, l); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// decryptSecret undoes the marketplace's RSA-OAEP encryption of a client
// secret, base64 (standard or URL alphabet). The guide does not name the
// OAEP hashes: SHA-256 with MGF1-SHA-1 (what Java's
// "RSA/ECB/OAEPWithSHA-256AndMGF1Padding" gives) is tried first, then
// SHA-256 with MGF1-SHA-256; a wrong padding fails both.
func decryptSecret(key *rsa.PrivateKey, b64 string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if ct, err = base64.URLEncoding.DecodeString(b64); err != nil {
			return nil, errors.New("not base64")
		}
	}
	if len(ct) != key.Size() {
		return nil, fmt.Errorf("%d bytes; an RSA-OAEP ciphertext under the vendor's key has %d", len(ct), key.Size())
	}
	for _, mgf := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		opts := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: mgf}
		if pt, err := key.Decrypt(nil, ct, opts); err == nil {
			if len(pt) == 0 || !utf8.Valid(pt) {
				return nil, errors.New("decrypts to an empty or non-UTF-8 secret")
			}
			return pt, nil
		}
	}
	return nil, errors.New("RSA-OAEP decryption failed (SHA-256 with MGF1-SHA-1 or MGF1-SHA-256, under this service's kit key)")
}

type syncUser struct {
	UserName     string   `json:"userName"`
	Name         string   `json:"name"`
	OrgCode      string   `json:"orgCode"`
	Role         string   `json:"role"`
	Enable       flexBool `json:"enable"`
	Position     string   `json:"position"`
	EmployeeCode string   `json:"employeeCode"`
	EmployeeType flexInt  `json:"employeeType"`
	Mobile       string   `json:"mobile"`
	Email        string   `json:"email"`
	WorkPlace    string   `json:"workPlace"`
}

type authSyncReq struct {
	syncCommon
	AppID           string     `json:"appId"`
	UserList        []syncUser `json:"userList"`
	CurrentSyncTime string     `json:"currentSyncTime"`
	Flag            flexInt    `json:"flag"`
}

// UserID is the id of a marketplace user: the same tenant and userName
// always give the same id, so retries and later calls find the user.
func UserID(tenantID, userName string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + userName))
	return "mku_" + hex.EncodeToString(sum[:12])
}

// authSync adds, changes, deletes or revokes up to MaxSyncUsers users in
// one transaction. Deleting or revoking a user, or disabling one, ends its
// sessions, which frees their seats and tells the programs
// (SignInRequired).
func (s *Sync) authSync(ctx context.Context, body []byte) error {
	var req authSyncReq
	if err := decode(body, &req); err != nil {
		return err
	}
	o, err := s.knownTenant(ctx, req.TenantID)
	if err != nil {
		return err
	}
	switch {
	case req.Flag < flagDelete || req.Flag > flagRevoke:
		return refuse(ResultBadParams, "flag must be 0 (delete), 1 (add), 2 (modify) or 3 (revoke)")
	case len(req.UserList) == 0:
		return refuse(ResultBadParams, "userList is empty")
	case len(req.UserList) > MaxSyncUsers:
		return refuse(ResultBadParams, fmt.Sprintf("userList has %d users; at most %d a call", len(req.UserList), MaxSyncUsers))
	}
	ids := make([]string, len(req.UserList))
	byID := make(map[string]syncUser, len(req.UserList))
	for i, u := range req.UserList {
		if err := checkText(fmt.Sprintf("userList[%d].userName", i), u.UserName, true); err != nil {
			return err
		}
		for n, v := range map[string]string{"name": u.Name, "orgCode": u.OrgCode, "position": u.Position, "employeeCode": u.EmployeeCode, "mobile": u.Mobile, "email": u.Email, "workPlace": u.WorkPlace} {
			if err := checkText(fmt.Sprintf("userList[%d].%s", i, n), v, false); err != nil {
				return err
			}
		}
		if u.Role != "" && u.Role != store.RoleUser && u.Role != store.RoleAdmin {
			return refuse(ResultBadParams, fmt.Sprintf("userList[%d].role must be user or admin", i))
		}
		id := UserID(req.TenantID, u.UserName)
		if _, dup := byID[id]; dup {
			return refuse(ResultBadParams, fmt.Sprintf("userList[%d]: user %s appears twice", i, u.UserName))
		}
		ids[i], byID[id] = id, u
	}
	if err := s.checkOrgCodes(ctx, o.ID, req); err != nil {
		return err
	}
	now, at := s.now(), req.at()
	var end []string // users whose sessions end
	_, err = s.st.UpsertUsers(ctx, o.ID, ids, func(u *store.User, found bool) error {
		in := byID[u.ID]
		if found && stale(at, u.SyncedAt) {
			return nil // a late retry: a newer call changed this user
		}
		if !found {
			u.Created = now
		}
		u.UserName, u.Updated = in.UserName, now
		if !at.IsZero() {
			u.SyncedAt = at
		}
		switch req.Flag {
		case flagAdd, flagModify:
			if in.Name != "" || !found {
				u.Name = cmpOr(in.Name, in.UserName)
			}
			if in.Role != "" || !found {
				u.Role = cmpOr(in.Role, store.RoleUser)
			}
			if in.OrgCode != "" {
				u.Department = in.OrgCode
			}
			if in.Email != "" {
				u.Email = in.Email
			}
			if in.Mobile != "" {
				u.Mobile = in.Mobile
			}
			if in.EmployeeCode != "" {
				u.EmployeeCode = in.EmployeeCode
			}
			if in.Enable.set {
				u.Disabled = !in.Enable.v
			}
			u.Deleted = false
			if req.Flag == flagAdd || !found {
				u.Authorised = true
			}
		case flagRevoke:
			u.Authorised = false
		case flagDelete:
			u.Authorised, u.Deleted = false, true
		}
		// Every user left without access, not only those this call
		// changed: a retry of a call whose first attempt stored the change
		// but did not get to end the sessions ends them.
		if found && !(u.Refused() == "" && u.Authorised) {
			end = append(end, u.ID)
		}
		return nil
	})
	if errors.Is(err, store.ErrExists) {
		return refuse(ResultBadParams, "a user of the list belongs to another organisation")
	}
	if err != nil {
		return err
	}
	s.sessions.EndUsers(ctx, "the marketplace revoked this user's access: sign in again", end...)
	return nil
}

// checkOrgCodes refuses users added or modified into a department the
// tenant does not have (the tree is read only when a user names one).
func (s *Sync) checkOrgCodes(ctx context.Context, orgID string, req authSyncReq) error {
	if req.Flag != flagAdd && req.Flag != flagModify {
		return nil
	}
	var known map[string]bool
	for i, u := range req.UserList {
		if u.OrgCode == "" {
			continue
		}
		if known == nil {
			depts, err := s.st.Departments(ctx, orgID)
			if err != nil {
				return err
			}
			known = make(map[string]bool, len(depts))
			for _, d := range depts {
				known[d.Code] = true
			}
		}
		if !known[u.OrgCode] {
			return refuse(ResultBadTree, fmt.Sprintf("userList[%d].orgCode %s is not a department of the tenant (sync the departments first)", i, u.OrgCode))
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type orgInfo struct {
	OrgCode    string `json:"orgCode"`
	OrgName    string `json:"orgName"`
	OrgNameAlt string `json:"OrgName"` // one version of the guide spells it so
	ParentCode string `json:"parentCode"`
}

func (o orgInfo) name() string { return cmpOr(o.OrgName, o.OrgNameAlt) }

type singleOrgSyncReq struct {
	syncCommon
	orgInfo
	Flag flexInt `json:"flag"`
}

// singleOrgSync adds, changes or deletes one department.
func (s *Sync) singleOrgSync(ctx context.Context, body []byte) error {
	var req singleOrgSyncReq
	if err := decode(body, &req); err != nil {
		return err
	}
	o, err := s.knownTenant(ctx, req.TenantID)
	if err != nil {
		return err
	}
	d, err := department(req.orgInfo, "")
	if err != nil {
		return err
	}
	if req.Flag < flagDelete || req.Flag > flagModify {
		return refuse(ResultBadParams, "flag must be 0 (delete), 1 (add) or 2 (modify)")
	}
	return s.st.UpdateDepartments(ctx, o.ID, func(cur []store.Department) ([]store.Department, error) {
		next := make([]store.Department, 0, len(cur)+1)
		for _, c := range cur {
			if c.Code != d.Code {
				next = append(next, c)
			}
		}
		if req.Flag != flagDelete {
			next = append(next, d)
		}
		return next, checkTree(next)
	})
}

type allOrgSyncReq struct {
	syncCommon
	OrgInfoList json.RawMessage `json:"orgInfoList"`
}

// maxDepartments bounds a tenant's tree (a 256 KiB call holds fewer).
const maxDepartments = 10000

// allOrgSync replaces the tenant's department tree. orgInfoList may be
// an array or a JSON string holding one (the guide's example).
func (s *Sync) allOrgSync(ctx context.Context, body []byte) error {
	var req allOrgSyncReq
	if err := decode(body, &req); err != nil {
		return err
	}
	o, err := s.knownTenant(ctx, req.TenantID)
	if err != nil {
		return err
	}
	raw := req.OrgInfoList
	var str string
	if json.Unmarshal(raw, &str) == nil {
		raw = json.RawMessage(str)
	}
	var list []orgInfo
	if err := json.Unmarshal(raw, &list); err != nil {
		return refuse(ResultBadParams, "orgInfoList must be an array of {orgCode, orgName, parentCode}, or a JSON string of one")
	}
	if len(list) > maxDepartments {
		return refuse(ResultBadParams, fmt.Sprintf("orgInfoList has more than %d departments", maxDepartments))
	}
	tree := make([]store.Department, 0, len(list))
	for i, in := range list {
		d, err := department(in, fmt.Sprintf("orgInfoList[%d].", i))
		if err != nil {
			return err
		}
		tree = append(tree, d)
	}
	if err := checkTree(tree); err != nil {
		return err
	}
	return s.st.UpdateDepartments(ctx, o.ID, func([]store.Department) ([]store.Department, error) { return tree, nil })
}

func department(in orgInfo, where string) (store.Department, error) {
	if err := checkCode(where+"orgCode", in.OrgCode); err != nil {
		return store.Department{}, err
	}
	if in.ParentCode != "" {
		if err := checkCode(where+"parentCode", in.ParentCode); err != nil {
			return store.Department{}, err
		}
	}
	if err := checkText(where+"orgName", in.name(), false); err != nil {
		return store.Department{}, err
	}
	return store.Department{Code: in.OrgCode, Name: cmpOr(in.name(), in.OrgCode), Parent: in.ParentCode}, nil
}

// checkTree refuses a department list that is not a forest: a code twice,
// a parent that is not in it, or a cycle.
func checkTree(tree []store.Department) error {
	parent := make(map[string]string, len(tree))
	for _, d := range tree {
		if _, dup := parent[d.Code]; dup {
			return refuse(ResultBadTree, "department "+d.Code+" appears twice")
		}
		parent[d.Code] = d.Parent
	}
	for _, d := range tree {
		if d.Parent != "" {
			if _, ok := parent[d.Parent]; !ok {
				return refuse(ResultBadTree, "department "+d.Code+" has an unknown parent "+d.Parent)
			}
		}
	}
	// Walk up from each department; a walk longer than the tree is a cycle.
	for _, d := range tree {
		at := d.Code
		for steps := 0; at != ""; steps++ {
			if steps > len(tree) {
				return refuse(ResultBadTree, "department "+d.Code+" is in a cycle of parents")
			}
			at = parent[at]
		}
	}
	return nil
}
