package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/iscsdk/iscsdk/internal/server/marketplace"
)

// kitFlags turn on the marketplace's 联营kit sync interfaces.
type kitFlags struct {
	keyFile, privateKey, prefix, sign *string
}

func addKitFlags(fs *flag.FlagSet) kitFlags {
	return kitFlags{
		keyFile:    fs.String("kit-key-file", "", "turn on the marketplace's sync interfaces (tenants, users, departments) with the 联营kit key in this file; $ISCD_KIT_KEY holds the key itself otherwise"),
		privateKey: fs.String("kit-private-key", "", "PEM file of the RSA private key (3072 bits or more) whose public key the marketplace encrypts applicationSync's client secrets with"),
		prefix:     fs.String("kit-path", marketplace.SyncPrefix, "where the sync interfaces are served: PATH + tenantSync, applicationSync, authSync, singleOrgSync, allOrgSync"),
		sign:       fs.String("kit-sign", marketplace.SignBody, "how x-sign covers the body: body (HMAC over key+nonce+timestamp+body) or body-hmac (the body replaced by its own HMAC, as the production interface)"),
	}
}

// config reads the kit key and the private key; with no key the sync
// interfaces stay off.
func (k kitFlags) config() (marketplace.SyncConfig, error) {
	cfg := marketplace.SyncConfig{Prefix: *k.prefix, Sign: *k.sign}
	if cfg.Sign != marketplace.SignBody && cfg.Sign != marketplace.SignBodyHMAC {
		return cfg, fmt.Errorf("--kit-sign %q: want %s or %s", cfg.Sign, marketplace.SignBody, marketplace.SignBodyHMAC)
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/") {
		return cfg, fmt.Errorf("--kit-path %q: want a path that begins and ends with /", cfg.Prefix)
	}
	if *k.keyFile != "" {
		data, err := os.ReadFile(*k.keyFile)
		if err != nil {
			return cfg, fmt.Errorf("--kit-key-file: %w", err)
		}
		if cfg.KitKey = strings.TrimSpace(string(data)); cfg.KitKey == "" {
			return cfg, fmt.Errorf("--kit-key-file %s is empty", *k.keyFile)
		}
	} else {
		cfg.KitKey = strings.TrimSpace(os.Getenv("ISCD_KIT_KEY"))
	}
	if *k.privateKey != "" {
		if cfg.KitKey == "" {
			return cfg, fmt.Errorf("--kit-private-key needs the kit key (--kit-key-file or $ISCD_KIT_KEY)")
		}
		key, err := marketplace.LoadKitKey(*k.privateKey)
		if err != nil {
			return cfg, fmt.Errorf("--kit-private-key: %w", err)
		}
		cfg.PrivateKey = key
	}
	return cfg, nil
}
