package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/aksk"
	"github.com/iscsdk/iscsdk/internal/appinfo"
	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
)

// marketAPIFlags are iscd serve's flags for calling the marketplace.
type marketAPIFlags struct {
	base, ak, skFile, usageKeyFile, deliveryPath *string
	checkOrders, asyncLicenses                   *bool
	interval, timeout, retry                     *time.Duration
	frontEnd, adminURL, memo, encryptType        *string
	computeUnit                                  *string
	editions                                     skuFlag
}

// skuFlag is --marketplace-sku SKU=EDITION, repeatable.
type skuFlag map[string]string

func (f skuFlag) String() string { return fmt.Sprint(map[string]string(f)) }

func (f skuFlag) Set(v string) error {
	sku, ed, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(sku) == "" || strings.TrimSpace(ed) == "" {
		return fmt.Errorf("want SKU=EDITION, got %q", v)
	}
	f[strings.TrimSpace(sku)] = strings.TrimSpace(ed)
	return nil
}

func addMarketAPIFlags(fs *flag.FlagSet) *marketAPIFlags {
	f := &marketAPIFlags{
		base:          fs.String("marketplace-api", marketapi.BaseChina, "the marketplace's open API base URL (regions: "+marketapi.BaseIntl+", "+marketapi.BaseEU+")"),
		ak:            fs.String("marketplace-ak", "", "the API gateway access key (AK) iscd signs its marketplace calls with; $ISCD_MARKETPLACE_AK"),
		skFile:        fs.String("marketplace-sk-file", "", "file holding the secret key (SK); $ISCD_MARKETPLACE_SK holds it otherwise"),
		usageKeyFile:  fs.String("marketplace-usage-key-file", "", "file holding the usage push's body-signature key; $ISCD_MARKETPLACE_USAGE_KEY, else the SK"),
		deliveryPath:  fs.String("marketplace-delivery-path", marketapi.DeliveryPath, "the open API path licences are delivered to (not named by the published guide)"),
		checkOrders:   fs.Bool("marketplace-check-orders", false, "check newInstance and refreshInstance against the marketplace's order query"),
		asyncLicenses: fs.Bool("marketplace-async-licenses", false, "getLicenseAsync answers 000004 and delivers the licence"),
		interval:      fs.Duration("marketplace-push-interval", time.Minute, "how often usage records and licences are pushed"),
		timeout:       fs.Duration("marketplace-api-timeout", 30*time.Second, "how long a marketplace call may take before it is retried"),
		retry:         fs.Duration("marketplace-push-retry", 30*time.Second, "the wait before a failed push or delivery is tried again, doubling (with jitter) up to an hour"),
		frontEnd:      fs.String("marketplace-appinfo-url", "", "newInstance answers appInfo (the first admin, a one-time activation secret) with this frontEndUrl"),
		adminURL:      fs.String("marketplace-appinfo-admin-url", "", "appInfo's adminUrl"),
		memo:          fs.String("marketplace-appinfo-memo", "", "appInfo's memo"),
		encryptType:   fs.String("marketplace-encrypt-type", appinfo.AES256, "appInfo's encryptType: 1 (AES-256-CBC) or 2 (AES-128-CBC)"),
		computeUnit:   fs.String("marketplace-compute-unit", marketpush.UnitCoreSeconds, "what a solve's usage_value counts, the unit of the metered SKU: core-seconds (the solver's CPU time), core-hours, solver-seconds or solver-hours (its wall time)"),
		editions:      skuFlag{},
	}
	fs.Var(f.editions, "marketplace-sku", "SKU=EDITION: the iscd edition of an order's skuCode (repeatable; default: the SKU itself)")
	return f
}

// config reads the keys (files first, then the environment).
func (f *marketAPIFlags) config() (server.MarketAPI, marketplace.AppInfo, error) {
	info := marketplace.AppInfo{FrontEndURL: *f.frontEnd, AdminURL: *f.adminURL, Memo: *f.memo, EncryptType: *f.encryptType}
	if _, err := appinfo.Key("", info.EncryptType); err != nil {
		return server.MarketAPI{}, info, fmt.Errorf("--marketplace-encrypt-type: %w", err)
	}
	if err := marketpush.CheckUnit(*f.computeUnit); err != nil {
		return server.MarketAPI{}, info, fmt.Errorf("--marketplace-compute-unit: %w", err)
	}
	ak := *f.ak
	if ak == "" {
		ak = strings.TrimSpace(os.Getenv("ISCD_MARKETPLACE_AK"))
	}
	sk, err := secret(*f.skFile, "ISCD_MARKETPLACE_SK", "--marketplace-sk-file")
	if err != nil {
		return server.MarketAPI{}, info, err
	}
	uk, err := secret(*f.usageKeyFile, "ISCD_MARKETPLACE_USAGE_KEY", "--marketplace-usage-key-file")
	if err != nil {
		return server.MarketAPI{}, info, err
	}
	if (ak == "") != (sk == "") {
		return server.MarketAPI{}, info, errors.New("the marketplace AK and SK go together (--marketplace-ak, --marketplace-sk-file)")
	}
	return server.MarketAPI{
		API:         marketapi.Config{BaseURL: *f.base, Key: aksk.Key{Access: ak, Secret: sk}, UsageKey: uk, DeliveryPath: *f.deliveryPath, Timeout: *f.timeout},
		Push:        marketpush.Config{Interval: *f.interval, MinBackoff: *f.retry, ComputeUnit: *f.computeUnit},
		CheckOrders: *f.checkOrders, AsyncLicenses: *f.asyncLicenses, Editions: f.editions,
	}, info, nil
}

// secret reads a key from file, else from the environment variable env.
func secret(file, env, flagName string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(env)), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", flagName, file)
	}
	return s, nil
}
