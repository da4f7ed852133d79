package main

import (
	"flag"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/session"
)

// limitFlags are iscd serve's bounds per client (docs/deploy.md).
type limitFlags struct {
	connsPerToken, connsPerOrg *int
	connMiB, totalMiB          *int64
}

func addLimitFlags(fs *flag.FlagSet) *limitFlags {
	return &limitFlags{
		connsPerToken: fs.Int("max-conns-per-token", session.DefaultMaxConnsPerToken, "the most session connections open at once with one API token, per replica (-1: no bound)"),
		connsPerOrg:   fs.Int("max-conns-per-org", session.DefaultMaxConnsPerOrg, "the most session connections open at once for one organisation, per replica (-1: no bound)"),
		connMiB:       fs.Int64("conn-inflight-mib", session.DefaultConnBudget>>20, "MiB of one connection's requests read and not yet answered; past it iscd stops reading the connection (at least 4)"),
		totalMiB:      fs.Int64("inflight-mib", server.DefaultBudget>>20, "MiB of requests read and not yet answered, all connections together (-1: no bound)"),
	}
}

func (f *limitFlags) config() server.Limits {
	total := *f.totalMiB << 20
	if *f.totalMiB < 0 {
		total = -1
	}
	return server.Limits{MaxConnsPerToken: *f.connsPerToken, MaxConnsPerOrg: *f.connsPerOrg, ConnBudget: *f.connMiB << 20, Budget: total}
}
