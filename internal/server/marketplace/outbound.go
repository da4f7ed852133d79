package marketplace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/appinfo"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/server/lease"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/token"
)

// ActivatePath is where the one-time activation secret of newInstance's
// appInfo is exchanged for the organisation's first API token (POST).
const ActivatePath = "/marketplace/v1/activate"

// activationKind is the store token kind of activation secrets.
const activationKind = "isv"

// Outbound configures what the production interface asks of, and hands
// to, the marketplace. The zero Outbound asks nothing: orders are not
// checked, licences are answered at once, newInstance answers no appInfo.
type Outbound struct {
	// Orders, when set, is asked for the order of every newInstance and
	// refreshInstance; a call that contradicts its order is refused with
	// 000002 (docs/marketplace.md).
	Orders OrderSource
	// Editions maps the order's skuCode to an iscd edition; a SKU not in
	// it is the edition itself.
	Editions map[string]string
	// AsyncLicenses makes getLicenseAsync answer 000004 and deliver the
	// licence through the outbox (package marketpush).
	AsyncLicenses bool
	// Kick, if set, is called when a delivery is queued (the pusher's
	// Kick), so it goes at once rather than at the next interval.
	Kick func()
	// AppInfo, when FrontEndURL is set, makes newInstance answer
	// encryptType and appInfo with the organisation's first admin and a
	// one-time activation secret.
	AppInfo AppInfo
}

// OrderSource is the marketplace's order query (marketapi.Client).
type OrderSource interface {
	Order(ctx context.Context, orderID, orderLineID string) (marketapi.Order, error)
}

// AppInfo configures newInstance's appInfo.
type AppInfo struct {
	FrontEndURL string // where the customer's admins sign in
	AdminURL    string
	Memo        string
	EncryptType string // appinfo.AES256 ("1", the default) or appinfo.AES128 ("2")
}

// appInfoReply is newInstance's appInfo, userName and password encrypted.
type appInfoReply struct {
	FrontEndURL string `json:"frontEndUrl"`
	AdminURL    string `json:"adminUrl"`
	UserName    string `json:"userName"`
	Password    string `json:"password"`
	Memo        string `json:"memo,omitempty"`
}

// orderLine is what an order check learnt: the edition its SKU gives,
// its charging mode and expiry (all "" when orders are not checked).
type orderLine struct {
	edition, chargingMode, expireTime string
}

// checkOrder compares a newInstance or refreshInstance with its order.
func (h *Handler) checkOrder(ctx context.Context, req request) (orderLine, error) {
	src := h.cfg.Outbound.Orders
	if src == nil {
		return orderLine{}, nil
	}
	o, err := src.Order(ctx, string(req.OrderID), string(req.OrderLineID))
	var me *marketapi.Error
	if errors.As(err, &me) && me.Status < 500 && me.Code != marketapi.CodeInternal {
		return orderLine{}, refuse(ResultBadParams, fmt.Sprintf("order %s: the marketplace answers %s %s", req.OrderID, me.Code, me.Msg))
	}
	if err != nil {
		return orderLine{}, fmt.Errorf("order query %s: %w", req.OrderID, err) // 000005: the marketplace retries
	}
	line, ok := o.Line(string(req.OrderLineID))
	if !ok {
		return orderLine{}, refuse(ResultBadParams, fmt.Sprintf("order %s has no line %s", req.OrderID, req.OrderLineID))
	}
	contradict := func(what string, call, order any) error {
		return refuse(ResultBadParams, fmt.Sprintf("contradicts order %s: %s is %v in the call, %v in the order", req.OrderID, what, call, order))
	}
	sku := ""
	if len(line.ProductInfo) > 0 {
		sku = line.ProductInfo[0].SKUCode
	}
	if req.SKUCode != "" && sku != "" && string(req.SKUCode) != sku {
		return orderLine{}, contradict("skuCode", req.SKUCode, sku)
	}
	trial := req.TrialFlag == "1" || req.TrialFlag == "true"
	if req.Activity == "newInstance" && trial != (o.OrderType == "TRIAL") {
		return orderLine{}, contradict("trialFlag", req.TrialFlag, o.OrderType)
	}
	if req.ExpireTime != "" && line.ExpireTime != "" && string(req.ExpireTime) != line.ExpireTime {
		return orderLine{}, contradict("expireTime", req.ExpireTime, line.ExpireTime)
	}
	if (line.ChargingMode == "ON_DEMAND" || line.ChargingMode == "ON_DEMAND_PKG") && req.Activity == "refreshInstance" && req.Scene == "RENEWAL" {
		return orderLine{}, contradict("chargingMode", "a renewal", line.ChargingMode)
	}
	ed := sku
	if e, ok := h.cfg.Outbound.Editions[sku]; ok {
		ed = e
	}
	return orderLine{edition: ed, chargingMode: line.ChargingMode, expireTime: line.ExpireTime}, nil
}

// appInfo makes the organisation's first admin and its one-time
// activation secret, encrypted for the marketplace. A retried
// newInstance gets a fresh secret; the earlier ones are revoked.
func (h *Handler) appInfo(ctx context.Context, org, instance string) (string, *appInfoReply, error) {
	cfg := h.cfg.Outbound.AppInfo
	if cfg.FrontEndURL == "" {
		return "", nil, nil
	}
	typ := cfg.EncryptType
	if typ == "" {
		typ = appinfo.AES256
	}
	userID := "admin-" + instance
	// The organisation's admin: the web console shows them their
	// organisation (docs/console.md).
	err := h.st.CreateUser(ctx, store.User{ID: userID, OrgID: org, Name: "Administrator", Role: store.RoleAdmin, Created: h.now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return "", nil, err
	}
	old, err := h.st.Tokens(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	for _, t := range old {
		if t.Kind == activationKind && !t.Revoked {
			if err := h.st.RevokeToken(ctx, t.ID); err != nil {
				return "", nil, err
			}
		}
	}
	secret, id, hash := token.New(activationKind)
	if err := h.st.CreateToken(ctx, store.Token{ID: id, Kind: activationKind, Hash: hash, UserID: userID, OrgID: org,
		Name: "marketplace activation", Created: h.now()}); err != nil {
		return "", nil, err
	}
	user, err := appinfo.Encrypt(h.cfg.AccessKey, typ, userID)
	if err != nil {
		return "", nil, err
	}
	pass, err := appinfo.Encrypt(h.cfg.AccessKey, typ, secret)
	if err != nil {
		return "", nil, err
	}
	return typ, &appInfoReply{FrontEndURL: cfg.FrontEndURL, AdminURL: cfg.AdminURL, UserName: user, Password: pass, Memo: cfg.Memo}, nil
}

// queueDelivery puts a licence in the outbox for the marketplace.
func (h *Handler) queueDelivery(ctx context.Context, ml store.MarketLicense) (store.Delivery, error) {
	now := h.now()
	d, err := h.st.EnqueueDelivery(ctx, store.Delivery{EventID: ml.EventID, InstanceID: ml.InstanceID, License: ml.License, NextTry: now, Created: now})
	if err == nil && d.State == store.OutboxPending && h.cfg.Outbound.Kick != nil {
		h.cfg.Outbound.Kick()
	}
	return d, err
}

// Activation serves ActivatePath: {"userName": ..., "password": ...} (the
// decrypted appInfo values) answers {"token": "isk_..."}, an API token of
// that admin, once; the secret is spent by it.
func (h *Handler) Activation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var in struct {
			UserName string `json:"userName"`
			Password string `json:"password"`
		}
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
		if err != nil || json.Unmarshal(data, &in) != nil {
			activationFail(w, http.StatusBadRequest, "bad_request", "want {\"userName\", \"password\"}")
			return
		}
		tok, err := h.activate(r.Context(), in.UserName, in.Password)
		if err != nil {
			activationFail(w, http.StatusUnauthorized, "unauthorized", "unknown or spent activation secret")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "userId": in.UserName})
	})
}

func activationFail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": code, "error": msg})
}

var errActivation = errors.New("activation refused")

func (h *Handler) activate(ctx context.Context, user, secret string) (string, error) {
	id, sec, err := token.Parse(activationKind, strings.TrimSpace(secret))
	if err != nil {
		return "", errActivation
	}
	t, err := h.st.Token(ctx, id)
	if err != nil || t.Kind != activationKind || t.Revoked || t.UserID != user || !token.Verify(sec, t.Hash) {
		return "", errActivation
	}
	// Spent by whoever claims it first, on any replica: a store lease
	// that never lapses is the claim, taken in one step by both backends.
	now := time.Now().UTC()
	claimed, err := lease.Take(ctx, h.st, "activation/"+id, token.ID(), now, now.AddDate(100, 0, 0))
	if err != nil {
		return "", err
	}
	if !claimed {
		return "", errActivation
	}
	if err := h.st.RevokeToken(ctx, id); err != nil {
		return "", err
	}
	tok, tid, hash := token.New(token.PrefixAPI)
	if err := h.st.CreateToken(ctx, store.Token{ID: tid, Kind: token.PrefixAPI, Hash: hash, UserID: t.UserID, OrgID: t.OrgID,
		Name: "marketplace activation", Created: now}); err != nil {
		return "", err
	}
	h.log.Info("marketplace activation spent", "user", t.UserID, "org", t.OrgID, "token", tid)
	return tok, nil
}
