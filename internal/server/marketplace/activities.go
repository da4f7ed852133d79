package marketplace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/license"
	"github.com/iscsdk/iscsdk/internal/server/licensing"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// TimeLayout is the marketplace's time format, yyyyMMddHHmmss, in UTC.
const TimeLayout = "20060102150405"

// Limits on request fields.
const (
	maxField       = 256
	maxFingerprint = 1024
	maxSeats       = 100000
)

// text is a request field that the marketplace may send as a JSON string
// or a number ("trialFlag":"1" or 1); both read as the same text.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*t = text(n.String())
	return nil
}

// request holds the fields of every activity; each uses some. Unknown
// fields are ignored: the marketplace adds fields over time.
type request struct {
	Activity          text `json:"activity"`
	TestFlag          text `json:"testFlag"`
	BusinessID        text `json:"businessId"`
	OrderID           text `json:"orderId"`
	OrderLineID       text `json:"orderLineId"`
	InstanceID        text `json:"instanceId"`
	CustomerID        text `json:"customerId"`
	CustomerName      text `json:"customerName"`
	TenantID          text `json:"tenantId"`
	ProductID         text `json:"productId"`
	SKUCode           text `json:"skuCode"`
	Edition           text `json:"edition"`
	Quantity          text `json:"quantity"`
	Amount            text `json:"amount"`
	TrialFlag         text `json:"trialFlag"`
	Scene             text `json:"scene"`
	EffectiveTime     text `json:"effectiveTime"`
	ExpireTime        text `json:"expireTime"`
	Status            text `json:"status"`
	EventID           text `json:"eventId"`
	DeviceFingerprint text `json:"deviceFingerprint"`
	License           text `json:"license"`
}

func (r request) test() bool { return r.TestFlag == "1" || r.TestFlag == "true" }

// check bounds every field before any activity looks at it.
func (r request) check() error {
	if r.Activity == "" {
		return refuse(ResultBadParams, "activity is required")
	}
	if len(r.DeviceFingerprint) > maxFingerprint {
		return refuse(ResultBadParams, fmt.Sprintf("deviceFingerprint longer than %d bytes", maxFingerprint))
	}
	if len(r.License) > license.MaxLen {
		return refuse(ResultBadParams, fmt.Sprintf("license longer than %d bytes", license.MaxLen))
	}
	for name, v := range map[string]text{
		"activity": r.Activity, "testFlag": r.TestFlag, "businessId": r.BusinessID, "orderId": r.OrderID,
		"orderLineId": r.OrderLineID, "instanceId": r.InstanceID, "customerId": r.CustomerID,
		"customerName": r.CustomerName, "tenantId": r.TenantID, "productId": r.ProductID, "skuCode": r.SKUCode,
		"edition": r.Edition, "quantity": r.Quantity, "amount": r.Amount, "trialFlag": r.TrialFlag, "scene": r.Scene,
		"effectiveTime": r.EffectiveTime, "expireTime": r.ExpireTime, "status": r.Status, "eventId": r.EventID,
	} {
		if len(v) > maxField {
			return refuse(ResultBadParams, fmt.Sprintf("%s longer than %d bytes", name, maxField))
		}
	}
	return nil
}

// need refuses the request unless every named field is set.
func need(fields ...any) error {
	var missing []string
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.TrimSpace(string(fields[i+1].(text))) == "" {
			missing = append(missing, fields[i].(string))
		}
	}
	if len(missing) > 0 {
		return refuse(ResultBadParams, "missing "+strings.Join(missing, ", "))
	}
	return nil
}

func parseTime(name string, v text) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(TimeLayout, string(v), time.UTC)
	if err != nil {
		return t, refuse(ResultBadParams, fmt.Sprintf("%s %q: want yyyyMMddHHmmss", name, v))
	}
	return t, nil
}

func (h *Handler) dispatch(r *http.Request, req request) (reply, error) {
	ctx := r.Context()
	switch req.Activity {
	case "newInstance":
		return h.newInstance(ctx, req)
	case "refreshInstance":
		if err := need("instanceId", req.InstanceID, "orderId", req.OrderID, "scene", req.Scene); err != nil {
			return reply{}, err
		}
		return h.refresh(ctx, req, string(req.InstanceID))
	case "updateInstanceStatus":
		if err := need("instanceId", req.InstanceID, "status", req.Status); err != nil {
			return reply{}, err
		}
		return h.setStatus(ctx, req, string(req.InstanceID))
	case "releaseInstance":
		if err := need("instanceId", req.InstanceID); err != nil {
			return reply{}, err
		}
		return h.release(ctx, req, string(req.InstanceID))
	case "upgradeInstance":
		return h.upgrade(ctx, req)
	case "getLicenseAsync":
		return h.getLicense(ctx, req)
	case "refreshLicenseCode":
		if err := need("license", req.License, "orderId", req.OrderID, "scene", req.Scene); err != nil {
			return reply{}, err
		}
		id, err := h.codeInstance(ctx, req, true)
		if err != nil {
			return reply{}, err
		}
		return h.refresh(ctx, req, id)
	case "updateLicenseCodeStatus":
		if err := need("license", req.License, "status", req.Status); err != nil {
			return reply{}, err
		}
		id, err := h.codeInstance(ctx, req, false)
		if err != nil {
			return reply{}, err
		}
		return h.setStatus(ctx, req, id)
	case "releaseLicenseCode":
		if err := need("license", req.License); err != nil {
			return reply{}, err
		}
		id, err := h.codeInstance(ctx, req, true)
		if err != nil {
			return reply{}, err
		}
		return h.release(ctx, req, id)
	}
	return reply{}, refuse(ResultBadParams, fmt.Sprintf("unknown activity %q", req.Activity))
}

// InstanceID is the instance (and licence) id of an order line: the same
// order line always gives the same id, which makes newInstance idempotent
// even if iscd stopped half-way through an earlier attempt.
func InstanceID(orderID, orderLineID string) string {
	sum := sha256.Sum256([]byte(orderID + "\x00" + orderLineID))
	return "mkt_" + hex.EncodeToString(sum[:12])
}

var customerPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// org finds (creating on first sight) the org of the request's customer.
func (h *Handler) org(ctx context.Context, req request) (string, error) {
	cust := req.CustomerID
	if cust == "" {
		cust = req.TenantID
	}
	if cust == "" {
		if h.cfg.DefaultOrg == "" {
			return "", refuse(ResultBadParams, "missing customerId (and no default organisation is configured)")
		}
		return h.cfg.DefaultOrg, nil
	}
	if !customerPattern.MatchString(string(cust)) {
		return "", refuse(ResultBadParams, "customerId must be 1 to 64 letters, digits, '_' or '-'")
	}
	id := "mkt-" + string(cust)
	name := string(req.CustomerName)
	if name == "" {
		name = "Marketplace customer " + string(cust)
	}
	err := h.st.CreateOrg(ctx, store.Org{ID: id, Name: name, Created: h.now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return "", fmt.Errorf("org %s: %w", id, err)
	}
	return id, nil
}

// product is the iscd product of the request: its productId when iscd
// knows that product, else the configured default.
func (h *Handler) product(ctx context.Context, req request) (string, error) {
	if req.ProductID != "" {
		if _, err := h.st.Product(ctx, string(req.ProductID)); err == nil {
			return string(req.ProductID), nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	if h.cfg.DefaultProduct == "" {
		return "", refuse(ResultBadParams, fmt.Sprintf("productId %q is not an iscd product (and no default product is configured)", req.ProductID))
	}
	return h.cfg.DefaultProduct, nil
}

// seats reads quantity (or amount); absent: 0.
func seats(req request) (int, error) {
	v := req.Quantity
	if v == "" {
		v = req.Amount
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 || n > maxSeats {
		return 0, refuse(ResultBadParams, fmt.Sprintf("quantity %q: want a whole number from 1 to %d", v, maxSeats))
	}
	return n, nil
}

func edition(req request) string {
	if req.SKUCode != "" {
		return string(req.SKUCode)
	}
	return string(req.Edition)
}

func (h *Handler) newInstance(ctx context.Context, req request) (reply, error) {
	if err := need("orderId", req.OrderID, "orderLineId", req.OrderLineID, "businessId", req.BusinessID); err != nil {
		return reply{}, err
	}
	id := InstanceID(string(req.OrderID), string(req.OrderLineID))
	ordered, err := h.checkOrder(ctx, req)
	if err != nil {
		return reply{}, err
	}
	if _, err := h.st.Instance(ctx, id); err == nil {
		return h.withAppInfo(ctx, req, id) // a retry
	} else if !errors.Is(err, store.ErrNotFound) {
		return reply{}, err
	}
	n, err := seats(req)
	if err != nil {
		return reply{}, err
	}
	if n == 0 {
		n = 1
	}
	if req.ExpireTime == "" && ordered.expireTime != "" {
		req.ExpireTime = text(ordered.expireTime) // a period order's expiry, when the call leaves it out
	}
	expires, err := parseTime("expireTime", req.ExpireTime)
	if err != nil {
		return reply{}, err
	}
	if !expires.IsZero() && !expires.After(h.now()) {
		return reply{}, refuse(ResultOutsidePeriod, "expireTime "+string(req.ExpireTime)+" has passed")
	}
	org, err := h.org(ctx, req)
	if err != nil {
		return reply{}, err
	}
	product, err := h.product(ctx, req)
	if err != nil {
		return reply{}, err
	}
	if err := h.gateSold(ctx, product); err != nil {
		return reply{}, err
	}
	ed := edition(req)
	if ordered.edition != "" {
		ed = ordered.edition
	}
	l, err := h.lic.CreateLicense(ctx, adminapi.CreateLicense{
		ID: id, OrgID: org, ProductID: product, Edition: ed, Kind: store.KindFloating, Seats: n,
		ExpiresAt: expires, GraceSeconds: int64(h.cfg.Grace / time.Second),
		Trial: req.TrialFlag == "1" || req.TrialFlag == "true",
	})
	if errors.Is(err, store.ErrExists) {
		// An earlier attempt made the licence and stopped before the
		// instance record: finish it.
		l, err = h.st.License(ctx, id)
	}
	if err != nil {
		return reply{}, h.licenceErr(err)
	}
	l.InstanceID, l.OrderID, l.OrderLineID = id, string(req.OrderID), string(req.OrderLineID)
	if err := h.lic.UpdateLicense(ctx, l, h.why(req, "marketplace order "+string(req.OrderID))); err != nil {
		return reply{}, err
	}
	now := h.now()
	in := store.MarketInstance{
		ID: id, OrderID: string(req.OrderID), OrderLineID: string(req.OrderLineID),
		CustomerID: string(req.CustomerID), Test: req.test(), ChargingMode: ordered.chargingMode, Created: now, Updated: now,
	}
	if err := h.st.PutInstance(ctx, in); err != nil {
		return reply{}, err
	}
	return h.withAppInfo(ctx, req, id)
}

// withAppInfo is newInstance's success: the instanceId and, when
// configured, appInfo with the organisation's first admin.
func (h *Handler) withAppInfo(ctx context.Context, req request, id string) (reply, error) {
	l, err := h.st.License(ctx, id)
	if err != nil {
		return reply{}, err
	}
	typ, info, err := h.appInfo(ctx, l.OrgID, id)
	if err != nil {
		return reply{}, err
	}
	return reply{InstanceID: id, EncryptType: typ, AppInfo: info}, nil
}

// gateSold makes a product sold through the marketplace require an
// active licence for compute and cloud files, unless an operator decided
// its gates already (iscctl product create/update --require-license).
func (h *Handler) gateSold(ctx context.Context, product string) error {
	return h.st.UpdateProduct(ctx, product, func(p *store.Product) error {
		if p.RequireLicense == nil {
			p.RequireLicense = &store.LicenseGates{Compute: true, Files: true}
		}
		return nil
	})
}

// why is an audit detail, marked when the call was a test.
func (h *Handler) why(req request, s string) string {
	if req.test() {
		return s + " (test call)"
	}
	return s
}

// licenceErr maps licensing's refusals onto result codes.
func (h *Handler) licenceErr(err error) error {
	var we *wire.Error
	if !errors.As(err, &we) {
		return err
	}
	switch we.Code {
	case wire.CodeReleased:
		return refuse(ResultNotFound, we.Message)
	case wire.CodeFrozen:
		return refuse(ResultOutsidePeriod, we.Message)
	case wire.CodeDeviceRequired:
		return refuse(ResultNeedDevice, we.Message)
	case wire.CodeDeviceLimit:
		return refuse(ResultQuota, we.Message)
	}
	return refuse(ResultBadParams, we.Message)
}

// instance loads an instance and its licence; unknown or released: 000003.
func (h *Handler) instance(ctx context.Context, id string, releasedOK bool) (store.MarketInstance, store.License, error) {
	in, err := h.st.Instance(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return in, store.License{}, refuse(ResultNotFound, "no instance "+id)
	}
	if err != nil {
		return in, store.License{}, err
	}
	l, err := h.st.License(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return in, l, refuse(ResultNotFound, "no licence for instance "+id)
	}
	if err != nil {
		return in, l, err
	}
	if l.Status == store.StatusReleased && !releasedOK {
		return in, l, refuse(ResultNotFound, "instance "+id+" was released")
	}
	return in, l, nil
}

// refresh applies a scene: TRIAL_TO_FORMAL, RENEWAL or
// UNSUBSCRIBE_RENEWAL_PERIOD. Each is idempotent: times are absolute and
// a renewal is recorded by order and expiry, so a retry changes nothing.
func (h *Handler) refresh(ctx context.Context, req request, id string) (reply, error) {
	expires, err := parseTime("expireTime", req.ExpireTime)
	if err != nil {
		return reply{}, err
	}
	in, l, err := h.instance(ctx, id, false)
	if err != nil {
		return reply{}, err
	}
	if req.Activity == "refreshInstance" && req.OrderLineID != "" {
		if _, err := h.checkOrder(ctx, req); err != nil {
			return reply{}, err
		}
	}
	order := string(req.OrderID)
	switch req.Scene {
	case "TRIAL_TO_FORMAL":
		if expires.IsZero() {
			return reply{}, refuse(ResultNeedExpiry, "TRIAL_TO_FORMAL needs expireTime")
		}
		l.Trial, l.ExpiresAt = false, expires
		if e := edition(req); e != "" {
			l.Edition = e
		}
		if req.ProductID != "" {
			if _, err := h.st.Product(ctx, string(req.ProductID)); err == nil {
				l.ProductID = string(req.ProductID)
			}
		}
	case "RENEWAL":
		if expires.IsZero() {
			return reply{}, refuse(ResultNeedExpiry, "RENEWAL needs expireTime")
		}
		seen := false
		for _, r := range in.Renewals {
			seen = seen || (r.OrderID == order && r.Expires.Equal(expires))
		}
		if !seen {
			in.Renewals = append(in.Renewals, store.Renewal{OrderID: order, Previous: l.ExpiresAt, Expires: expires})
			l.ExpiresAt = expires
		}
	case "UNSUBSCRIBE_RENEWAL_PERIOD":
		// The renewal of this order is refunded: back to the expiry
		// before it (or to expireTime when the marketplace says).
		found := -1
		for i := len(in.Renewals) - 1; i >= 0 && found < 0; i-- {
			if in.Renewals[i].OrderID == order {
				found = i
			}
		}
		switch {
		case found >= 0 && in.Renewals[found].Refunded:
			return reply{InstanceID: id}, nil // a retry
		case found >= 0:
			in.Renewals[found].Refunded = true
			if expires.IsZero() {
				expires = in.Renewals[found].Previous
			}
		case expires.IsZero():
			return reply{}, refuse(ResultBadParams, "no renewal by order "+order+" to refund, and no expireTime")
		}
		l.ExpiresAt = expires
	default:
		return reply{}, refuse(ResultBadParams, fmt.Sprintf("unknown scene %q", req.Scene))
	}
	in.Updated = h.now()
	if err := h.st.PutInstance(ctx, in); err != nil {
		return reply{}, err
	}
	if err := h.lic.UpdateLicense(ctx, l, h.why(req, fmt.Sprintf("marketplace %s, order %s, expires %s", req.Scene, order, l.ExpiresAt.Format(time.RFC3339)))); err != nil {
		return reply{}, err
	}
	return reply{InstanceID: id}, nil
}

// setStatus freezes or unfreezes: the licence and everything about it
// stays; programs are told at once and refused until it is unfrozen.
func (h *Handler) setStatus(ctx context.Context, req request, id string) (reply, error) {
	status, ok := map[text]string{"FREEZE": store.StatusFrozen, "UNFREEZE": store.StatusActive}[req.Status]
	if !ok {
		return reply{}, refuse(ResultBadParams, fmt.Sprintf("status %q: want FREEZE or UNFREEZE", req.Status))
	}
	if _, _, err := h.instance(ctx, id, false); err != nil {
		return reply{}, err
	}
	if _, err := h.lic.SetStatus(ctx, id, status, h.why(req, "marketplace "+strings.ToLower(string(req.Status)))); err != nil {
		return reply{}, h.licenceErr(err)
	}
	return reply{InstanceID: id}, nil
}

// release ends an instance for good. The licence stays, RELEASED, for the
// audit trail; its seats are freed and programs told.
func (h *Handler) release(ctx context.Context, req request, id string) (reply, error) {
	if _, _, err := h.instance(ctx, id, true); err != nil {
		return reply{}, err
	}
	if _, err := h.lic.SetStatus(ctx, id, store.StatusReleased, h.why(req, "marketplace release")); err != nil {
		return reply{}, h.licenceErr(err)
	}
	return reply{InstanceID: id}, nil
}

// upgrade changes seats and SKU to the values the new order line says.
func (h *Handler) upgrade(ctx context.Context, req request) (reply, error) {
	if err := need("instanceId", req.InstanceID, "orderId", req.OrderID, "orderLineId", req.OrderLineID); err != nil {
		return reply{}, err
	}
	n, err := seats(req)
	if err != nil {
		return reply{}, err
	}
	id := string(req.InstanceID)
	_, l, err := h.instance(ctx, id, false)
	if err != nil {
		return reply{}, err
	}
	if n > 0 {
		l.Seats = n
	}
	if e := edition(req); e != "" {
		l.Edition = e
	}
	l.OrderID, l.OrderLineID = string(req.OrderID), string(req.OrderLineID)
	if err := h.lic.UpdateLicense(ctx, l, h.why(req, fmt.Sprintf("marketplace upgrade, order %s: %d seats, edition %q", req.OrderID, l.Seats, l.Edition))); err != nil {
		return reply{}, err
	}
	return reply{InstanceID: id}, nil
}

// getLicense issues a licence document for the period and device, once
// per eventId: a retry gets the stored string.
func (h *Handler) getLicense(ctx context.Context, req request) (reply, error) {
	if err := need("instanceId", req.InstanceID, "eventId", req.EventID); err != nil {
		return reply{}, err
	}
	if req.EffectiveTime == "" || req.ExpireTime == "" {
		return reply{}, refuse(ResultNeedExpiry, "a period-billed licence needs effectiveTime and expireTime")
	}
	id, event := string(req.InstanceID), string(req.EventID)
	if old, err := h.st.MarketLicense(ctx, event); err == nil {
		if old.InstanceID != id {
			return reply{}, refuse(ResultBadParams, "eventId "+event+" was used for another instance")
		}
		return h.licenseReply(ctx, old)
	} else if !errors.Is(err, store.ErrNotFound) {
		return reply{}, err
	}
	effective, err := parseTime("effectiveTime", req.EffectiveTime)
	if err != nil {
		return reply{}, err
	}
	expires, err := parseTime("expireTime", req.ExpireTime)
	if err != nil {
		return reply{}, err
	}
	if !expires.After(effective) {
		return reply{}, refuse(ResultBadParams, "expireTime must be after effectiveTime")
	}
	_, l, err := h.instance(ctx, id, false)
	if err != nil {
		return reply{}, err
	}
	str, err := h.lic.IssueDocument(ctx, licensing.Issue{
		LicenseID: id, Device: string(req.DeviceFingerprint), EffectiveAt: effective, ExpiresAt: expires,
		Why: h.why(req, "marketplace event "+event),
	})
	if err != nil {
		return reply{}, h.licenceErr(err)
	}
	ml, err := h.st.PutMarketLicense(ctx, store.MarketLicense{EventID: event, InstanceID: id, License: str, Issued: h.now()})
	if err != nil {
		return reply{}, err
	}
	// The string is also the licence code the code family refers to.
	if err := h.bindCode(ctx, req, l, ml.License); err != nil {
		return reply{}, err
	}
	return h.licenseReply(ctx, ml)
}

// licenseReply answers getLicenseAsync: the licence itself, or, with
// Outbound.AsyncLicenses, 000004 until the marketplace has accepted its
// delivery (and the licence after that, for a late retry).
func (h *Handler) licenseReply(ctx context.Context, ml store.MarketLicense) (reply, error) {
	if !h.cfg.Outbound.AsyncLicenses {
		return reply{InstanceID: ml.InstanceID, License: ml.License}, nil
	}
	d, err := h.queueDelivery(ctx, ml)
	if err != nil {
		return reply{}, err
	}
	if d.State == store.OutboxSent {
		return reply{InstanceID: ml.InstanceID, License: ml.License}, nil
	}
	return reply{}, &failure{ResultAsync, "accepted; the licence is delivered when ready"}
}

// bindCode makes code refer to l and records it on the licence.
func (h *Handler) bindCode(ctx context.Context, req request, l store.License, code string) error {
	if err := h.st.BindLicenseCode(ctx, code, l.ID); err != nil {
		return err
	}
	if c := codeName(code); l.LicenseCode != c {
		l.LicenseCode = c
		return h.lic.UpdateLicense(ctx, l, h.why(req, "marketplace licence code "+c))
	}
	return nil
}

// codeName is how License.LicenseCode shows a code: as is when short,
// else by its SHA-256 (a code may be a whole licence string).
func codeName(code string) string {
	if len(code) <= 64 {
		return code
	}
	sum := sha256.Sum256([]byte(code))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// codeInstance finds the instance a licence code refers to. A code iscd
// has not seen is bound to the instance of the request's order line when
// byOrder allows and the request names one.
func (h *Handler) codeInstance(ctx context.Context, req request, byOrder bool) (string, error) {
	id, err := h.st.LicenseCodeInstance(ctx, string(req.License))
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if !byOrder || req.OrderID == "" || req.OrderLineID == "" {
		return "", refuse(ResultNotFound, "unknown licence code")
	}
	id = InstanceID(string(req.OrderID), string(req.OrderLineID))
	_, l, err := h.instance(ctx, id, true)
	if err != nil {
		var f *failure
		if errors.As(err, &f) {
			return "", refuse(ResultNotFound, "unknown licence code, and no instance for order line "+string(req.OrderLineID))
		}
		return "", err
	}
	return id, h.bindCode(ctx, req, l, string(req.License))
}
