// Package marketapi is iscd's client of the cloud marketplace's open API,
// the calls the vendor makes: the order query, the usage push of
// pay-per-use records and the delivery of licences getLicenseAsync
// answered 000004 for. Every request is signed for the API gateway with
// AK/SK (package aksk); the usage push also carries the body signature
// the marketplace checks itself. markettest is a marketplace to test it
// against.
package marketapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/aksk"
)

// Paths of the open API under the base URL. DeliveryPath is not in the
// published guide (it says the licence is "uploaded" for the eventId
// without naming the call): Config.DeliveryPath overrides it.
const (
	OrderPath    = "/api/mkp-openapi-public/global/v1/order/query"
	UsagePath    = "/api/mkp-openapi-public/global/v1/isv/usage-data"
	DeliveryPath = "/api/mkp-openapi-public/global/v1/isv/license-async"
)

// Regions' base URLs.
const (
	BaseChina = "https://mkt.myhuaweicloud.com"
	BaseIntl  = "https://mkt-intl.myhuaweicloud.com"
	BaseEU    = "https://mkt.myhuaweicloud.eu"
)

// TimeLayout is the usage push's time format (UTC).
const TimeLayout = "20060102T150405Z"

// MaxBatch is the most records one usage push may carry.
const MaxBatch = 1000

// Result codes the open API answers.
const (
	OK             = "MKT.0000"
	CodeInternal   = "MKT.0999"
	CodeInput      = "MKT.0100"
	CodeParam      = "MKT.0101"
	CodeBodySig    = "MKT.0102"
	CodeRequest    = "MKT.0199"
	CodeIllegal    = "MKT.0150"
	CodeNoAuth     = "MKT.0151"
	CodeToken      = "MKT.0154"
	CodeNoInstance = "MKT.9001"
	CodeEntities   = "MKT.9002"
	CodeTooMany    = "MKT.9003"
	CodeTooOld     = "MKT.9004"
)

// Config says where the marketplace is and how to sign for it. Its String
// leaves the secrets out.
type Config struct {
	BaseURL      string   // BaseChina when empty
	Key          aksk.Key // the API gateway's AK/SK
	UsageKey     string   // the usage push's body-signature key; Key.Secret when empty
	DeliveryPath string   // DeliveryPath when empty
	Timeout      time.Duration
	HTTP         *http.Client // http.DefaultClient's transport when nil
}

// String describes c without secrets.
func (c Config) String() string {
	return fmt.Sprintf("marketapi{base=%s access=%s}", c.BaseURL, c.Key.Access)
}

// Client calls the marketplace.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Key.Access == "" || cfg.Key.Secret == "" {
		return nil, errors.New("marketapi: no AK/SK")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = BaseChina
	}
	if _, err := url.Parse(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("marketapi: base URL: %w", err)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.UsageKey == "" {
		cfg.UsageKey = cfg.Key.Secret
	}
	if cfg.DeliveryPath == "" {
		cfg.DeliveryPath = DeliveryPath
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{cfg: cfg, http: hc}, nil
}

// Error is the marketplace's refusal: its code (MKT.xxxx, or the
// gateway's APIGW.xxxx) and message, with the HTTP status.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("marketplace: HTTP %d %s %s", e.Status, e.Code, e.Msg)
}

// answer is every answer's shape: the usage push says error_code, the
// order query resultCode.
type answer struct {
	ErrorCode  string          `json:"error_code"`
	ErrorMsg   string          `json:"error_msg"`
	ResultCode string          `json:"resultCode"`
	ResultMsg  string          `json:"resultMsg"`
	OrderInfo  json.RawMessage `json:"orderInfo"`
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte, hdr http.Header) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := c.cfg.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	req.Header.Set("Host", req.URL.Host)
	if err := c.cfg.Key.Sign(req, body, time.Now()); err != nil {
		return answer{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("marketplace %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("marketplace %s: %w", path, err)
	}
	var a answer
	_ = json.Unmarshal(data, &a) // a gateway error may not be JSON; the status says it then
	code, msg := a.ErrorCode, a.ErrorMsg
	if code == "" {
		code, msg = a.ResultCode, a.ResultMsg
	}
	if resp.StatusCode != http.StatusOK || code != OK {
		if code == "" {
			msg = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return a, &Error{Status: resp.StatusCode, Code: code, Msg: msg}
	}
	return a, nil
}

// UsageRecord is one record of the usage push, its fields in the order
// the marketplace sorts them.
type UsageRecord struct {
	BeginTime         string `json:"begin_time"`
	EndTime           string `json:"end_time"`
	InstanceID        string `json:"instance_id"`
	MeteringSN        string `json:"metering_sn"`
	RecordTime        string `json:"record_time"`
	RelatePkgInstance string `json:"relate_pkg_instance,omitempty"`
	UsageValue        Value  `json:"usage_value"`
}

// Value is a usage value, written with at most 4 decimals.
type Value float64

// MarshalJSON writes v rounded to 4 decimals, without exponent.
func (v Value) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(math.Round(float64(v)*1e4)/1e4, 'f', -1, 64)), nil
}

// UsageBody is the usage push's body.
type UsageBody struct {
	UsageRecords []UsageRecord `json:"usage_records"`
}

// BodySignature is the usage push's signature header:
// base64(HMAC-SHA256(key, "ts={ts}&nonce={nonce}&body={body}")).
func BodySignature(key, ts, nonce string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(m, "ts=%s&nonce=%s&body=%s", ts, nonce, body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// PushUsage sends one batch (at most MaxBatch records). nil means the
// marketplace accepted all of them; an *Error says what it refused.
func (c *Client) PushUsage(ctx context.Context, recs []UsageRecord) error {
	if len(recs) == 0 || len(recs) > MaxBatch {
		return fmt.Errorf("marketapi: a usage push carries 1 to %d records, not %d", MaxBatch, len(recs))
	}
	body, err := json.Marshal(UsageBody{UsageRecords: recs})
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	nonce := newNonce()
	hdr := http.Header{}
	hdr.Set("ts", ts)
	hdr.Set("nonce", nonce)
	hdr.Set("signature", BodySignature(c.cfg.UsageKey, ts, nonce, body))
	_, err = c.do(ctx, http.MethodPost, UsagePath, nil, body, hdr)
	return err
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Delivery is the body of a licence delivery.
type Delivery struct {
	EventID    string `json:"eventId"`
	InstanceID string `json:"instanceId"`
	License    string `json:"license"`
}

// DeliverLicense hands the marketplace the licence of an eventId.
func (c *Client) DeliverLicense(ctx context.Context, d Delivery) error {
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, c.cfg.DeliveryPath, nil, body, nil)
	return err
}

// Order is the order query's orderInfo.
type Order struct {
	OrderID      string      `json:"orderId"`
	OrderType    string      `json:"orderType"` // NEW, TRIAL, TRIAL_TO_FORMAL, UNSUBSCRIBE, RENEW, CHANGE
	CreateTime   string      `json:"createTime"`
	OrderLine    []OrderLine `json:"orderLine"`
	BuyerInfo    Buyer       `json:"buyerInfo"`
	ExtendParams []Param     `json:"extendParams,omitempty"`
}

// OrderLine is one line of an order.
type OrderLine struct {
	OrderLineID  string        `json:"orderLineId"`
	ChargingMode string        `json:"chargingMode"` // ON_DEMAND, ONE_TIME, PERIOD, ON_DEMAND_PKG
	PeriodType   string        `json:"periodType,omitempty"`
	PeriodNumber int           `json:"periodNumber,omitempty"`
	ExpireTime   string        `json:"expireTime,omitempty"` // yyyyMMddHHmmss
	ProductInfo  []ProductInfo `json:"productInfo"`
	ExtendParams []Param       `json:"extendParams,omitempty"`
	Currency     string        `json:"currency,omitempty"`
	AfterDisc    json.Number   `json:"currencyAfterDiscount,omitempty"`
}

// ProductInfo is a product of an order line.
type ProductInfo struct {
	ProductID   string      `json:"productId"`
	SKUCode     string      `json:"skuCode"`
	LinearValue json.Number `json:"linearValue,omitempty"`
	ProductName string      `json:"productName,omitempty"`
}

// Buyer is the order's customer.
type Buyer struct {
	CustomerID   string      `json:"customerId,omitempty"`
	CustomerName string      `json:"customerName,omitempty"`
	UserID       string      `json:"userId,omitempty"`
	UserName     string      `json:"userName,omitempty"`
	Email        string      `json:"email,omitempty"`
	MobilePhone  string      `json:"mobilePhone,omitempty"`
	CustomerType json.Number `json:"customerType,omitempty"`
}

// Param is a name and value of extendParams.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Line returns the order line of that id.
func (o Order) Line(id string) (OrderLine, bool) {
	for _, l := range o.OrderLine {
		if l.OrderLineID == id {
			return l, true
		}
	}
	return OrderLine{}, false
}

// Order queries an order (orderLineID may be empty: all its lines).
func (c *Client) Order(ctx context.Context, orderID, orderLineID string) (Order, error) {
	q := url.Values{"orderId": {orderID}}
	if orderLineID != "" {
		q.Set("orderLineId", orderLineID)
	}
	a, err := c.do(ctx, http.MethodGet, OrderPath, q, nil, nil)
	if err != nil {
		return Order{}, err
	}
	var o Order
	if err := json.Unmarshal(a.OrderInfo, &o); err != nil {
		return o, fmt.Errorf("marketplace order %s: orderInfo: %w", orderID, err)
	}
	return o, nil
}
