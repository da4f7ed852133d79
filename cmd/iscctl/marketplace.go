package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

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
			name: "marketplace activate", summary: "sign a marketplace customer's first admin in with appInfo's one-time secret",
			offline: true,
			about: "newInstance's appInfo gives the customer's first admin a user name and a one-time password (the\n" +
				"marketplace shows them decrypted). This spends the password and prints, once, alone on stdout, an\n" +
				"API token of that admin (isk_...) for programs and the file commands. The password is read from a\n" +
				"file (- for standard input), never from the command line.",
			flags: []flagSpec{
				{"server", "URL", "iscd's URL, e.g. https://iscd.example.com", true},
				{"user", "NAME", "appInfo's userName", true},
				{"secret-file", "FILE", "the file holding appInfo's password (- for standard input)", true},
			},
			run: activate,
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

// activate spends a marketplace activation secret for an API token.
func activate(x *call) error {
	u, err := checkAdminURL(strings.TrimRight(x.flags["server"], "/"), x.g.insecure)
	if err != nil {
		return badFlag("--server: %v", err)
	}
	var in io.Reader
	if f := x.flags["secret-file"]; f == "-" {
		in = os.Stdin
	} else {
		fh, err := os.Open(f)
		if err != nil {
			return badFlag("--secret-file: %v", err)
		}
		defer fh.Close()
		in = fh
	}
	data, err := io.ReadAll(io.LimitReader(in, 4<<10))
	if err != nil {
		return err
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return badFlag("--secret-file: empty")
	}
	body, _ := json.Marshal(map[string]string{"userName": x.flags["user"], "password": secret})
	hc := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(x.ctx, http.MethodPost, u.String()+"/marketplace/v1/activate", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		if out.Error == "" {
			out.Error = resp.Status
		}
		return fmt.Errorf("activation refused: %s (a secret works once)", out.Error)
	}
	if x.g.json {
		return x.printJSON(map[string]string{"token": out.Token, "user": x.flags["user"]})
	}
	fmt.Fprintln(x.stdout, out.Token)
	fmt.Fprintf(x.stderr, "Signed in as %s; the one-time secret is spent. Keep this API token: it is not shown again.\n", x.flags["user"])
	return nil
}
