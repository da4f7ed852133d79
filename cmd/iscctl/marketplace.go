package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// The marketplace commands (docs/marketplace.md): the usage outbox and
// the order query.
func init() {
	commandRoles["marketplace usage"] = adminapi.RoleReadOnly
	commandRoles["marketplace order"] = adminapi.RoleReadOnly
	commandRoles["marketplace requeue"] = adminapi.RoleLicenses
	commands = append(commands,
		command{
			name: "marketplace usage", summary: "show the marketplace usage outbox: counts, the pusher, records",
			about: "Usage records of pay-per-use instances wait here until the marketplace accepts them. pending: not\n" +
				"yet accepted (NEXT TRY says when; WARN marks records near the marketplace's 21-day limit); sent:\n" +
				"accepted; parked: refused for good, with the reason — fix the cause, then 'iscctl marketplace requeue'.",
			flags: []flagSpec{
				{"state", "S", "pending, sent or parked (default: all)", false},
				{"limit", "N", "the newest N records (default 100; 0: all)", false},
			},
			run: marketUsage,
		},
		command{
			name: "marketplace requeue", summary: "push parked usage records again",
			flags: []flagSpec{
				{"sn", "LIST", "the metering numbers, comma-separated", false},
				{"all", "", "every parked record", false},
			},
			run: func(x *call) error {
				var sns []string
				for _, s := range strings.Split(x.flags["sn"], ",") {
					if s = strings.TrimSpace(s); s != "" {
						sns = append(sns, s)
					}
				}
				if (len(sns) == 0) == (x.flags["all"] == "") {
					return badFlag("give --sn LIST or --all")
				}
				var out adminapi.Requeued
				return x.do("POST", "/marketplace/usage/requeue", adminapi.Requeue{MeteringSNs: sns}, &out, func() {
					fmt.Fprintf(x.stdout, "%d parked records queued again\n", out.Requeued)
				})
			},
		},
		command{
			name: "marketplace order", summary: "query an order from the marketplace", args: []string{"ID"},
			flags: []flagSpec{{"line", "L", "one order line's id", false}},
			run: func(x *call) error {
				path := query("/marketplace/orders/"+url.PathEscape(x.args[0]), "line", x.flags["line"])
				var o struct {
					OrderID   string `json:"orderId"`
					OrderType string `json:"orderType"`
					Created   string `json:"createTime"`
					Buyer     struct {
						CustomerID   string `json:"customerId"`
						CustomerName string `json:"customerName"`
					} `json:"buyerInfo"`
					Lines []struct {
						ID      string `json:"orderLineId"`
						Mode    string `json:"chargingMode"`
						Period  string `json:"periodType"`
						N       int    `json:"periodNumber"`
						Expires string `json:"expireTime"`
						Product []struct {
							ID  string `json:"productId"`
							SKU string `json:"skuCode"`
						} `json:"productInfo"`
					} `json:"orderLine"`
				}
				return x.do("GET", path, nil, &o, func() {
					fmt.Fprintf(x.stdout, "order %s (%s), created %s, customer %s %s\n\n", o.OrderID, o.OrderType, o.Created, o.Buyer.CustomerID, o.Buyer.CustomerName)
					var rows [][]string
					for _, l := range o.Lines {
						prod, sku := "", ""
						if len(l.Product) > 0 {
							prod, sku = l.Product[0].ID, l.Product[0].SKU
						}
						period := ""
						if l.Period != "" {
							period = strconv.Itoa(l.N) + " " + l.Period
						}
						rows = append(rows, []string{l.ID, l.Mode, period, l.Expires, prod, sku})
					}
					x.table("", []string{"LINE", "CHARGING", "PERIOD", "EXPIRES", "PRODUCT", "SKU"}, rows)
				})
			},
		},
	)
}

func marketUsage(x *call) error {
	path := query("/marketplace/usage", "state", x.flags["state"])
	path = query(path, "limit", x.flags["limit"])
	var u adminapi.MarketUsage
	return x.do("GET", path, nil, &u, func() {
		fmt.Fprintf(x.stdout, "pending %d (near the 21-day limit %d), sent %d, parked %d", u.Pending, u.Warned, u.Sent, u.Parked)
		if !u.OldestPending.IsZero() {
			fmt.Fprintf(x.stdout, "; oldest pending since %s (%s s)", when(u.OldestPending), strconv.FormatFloat(u.OldestAge, 'f', 0, 64))
		}
		fmt.Fprintln(x.stdout)
		p := u.Pusher
		if !p.Enabled {
			fmt.Fprintln(x.stdout, "pusher: off on this replica (no marketplace AK/SK)")
		} else {
			fmt.Fprintf(x.stdout, "pusher %s: leader %v, last cycle %s, last push %s", p.Holder, p.Leader, when(p.LastCycle), when(p.LastPush))
			if p.LastError != "" {
				fmt.Fprintf(x.stdout, ", last error: %s", p.LastError)
			}
			fmt.Fprintln(x.stdout)
		}
		if len(u.Records) == 0 {
			return
		}
		fmt.Fprintln(x.stdout)
		var rows [][]string
		for _, r := range u.Records {
			warn := ""
			if r.Warned {
				warn = "WARN"
			}
			rows = append(rows, []string{r.MeteringSN, r.InstanceID, r.State, when(r.Begin), when(r.End), hours(r.Value),
				strconv.Itoa(r.Attempts), warn, r.Reason})
		}
		x.table("", []string{"METERING SN", "INSTANCE", "STATE", "BEGIN", "END", "HOURS", "ATTEMPTS", "", "REASON"}, rows)
	})
}
