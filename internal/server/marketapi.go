package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/iscsdk/iscsdk/internal/marketapi"
	"github.com/iscsdk/iscsdk/internal/server/admin"
	"github.com/iscsdk/iscsdk/internal/server/marketplace"
	"github.com/iscsdk/iscsdk/internal/server/marketpush"
)

// MarketAPI configures iscd's calls to the marketplace: the usage push,
// licence delivery and the order query (docs/marketplace.md). It is off
// unless API.Key is set.
type MarketAPI struct {
	API  marketapi.Config  // base URL, AK/SK, the usage push's key; never logged with its secrets
	Push marketpush.Config // interval, batch, backoff, lease
	// CheckOrders checks newInstance and refreshInstance against the
	// order query.
	CheckOrders bool
	// AsyncLicenses makes getLicenseAsync answer 000004 and deliver.
	AsyncLicenses bool
	// Editions maps an order's skuCode to an iscd edition (checked
	// orders); a SKU not in it is the edition itself.
	Editions map[string]string
}

// openMarketAPI makes the client and the pusher, and points the
// production interface's Outbound at them.
func (s *Server) openMarketAPI(cfg *Config, adm *admin.API) error {
	m := cfg.MarketAPI
	out := &cfg.Marketplace.Outbound
	ad := &marketpush.Admin{St: s.store, Log: s.log}
	defer ad.Mount(adm)
	if m.API.Key.Access == "" && m.API.Key.Secret == "" {
		if m.CheckOrders || m.AsyncLicenses {
			return errors.New("iscd: checking orders and delivering licences need the marketplace's AK/SK")
		}
		return nil
	}
	c, err := marketapi.New(m.API)
	if err != nil {
		return fmt.Errorf("iscd: %w", err)
	}
	if m.Push.Holder == "" {
		// The same host and data directory after a restart: the lease is
		// its own at once, not after it lapses.
		host, _ := os.Hostname()
		dir, _ := filepath.Abs(cfg.DataDir)
		m.Push.Holder = host + ":" + dir
	}
	s.push = marketpush.New(s.store, c, m.Push, s.log)
	s.licenses.OnSeatReturned(s.push.SeatReturned)
	ad.Client, ad.Pusher = c, s.push
	if m.CheckOrders {
		out.Orders = c
	}
	out.AsyncLicenses = m.AsyncLicenses
	out.Editions = m.Editions
	out.Kick = s.push.Kick
	s.log.Info("marketplace API", "config", m.API.String(), "checkOrders", m.CheckOrders, "asyncLicenses", m.AsyncLicenses)
	return nil
}

// mountActivation serves the one-time activation of newInstance's appInfo.
func mountActivation(mux *http.ServeMux, mh *marketplace.Handler) {
	mux.Handle(marketplace.ActivatePath, mh.Activation())
}

// runMarketPush pushes the outbox until ctx ends (nothing without a
// marketplace API).
func (s *Server) runMarketPush(ctx context.Context) {
	if s.push != nil {
		s.push.Run(ctx)
	}
}
