package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// The identity commands: who the users are (as the marketplace synced
// them or an operator made them), the department tree, who holds which
// seat, and which users a named-user licence admits (docs/identity.md).
func init() {
	commandRoles["users"] = adminapi.RoleReadOnly
	commandRoles["departments"] = adminapi.RoleReadOnly
	commandRoles["seats"] = adminapi.RoleReadOnly
	commandRoles["license users"] = adminapi.RoleLicenses
	commands = append(commands,
		command{
			name: "users", summary: "list users with their role, department and status",
			about: "Status: active, disabled (enable=false), revoked (the marketplace withdrew the authorisation),\n" +
				"deleted. A user with a USERNAME came from the marketplace's authSync.",
			flags: []flagSpec{{"org", "O", "only the users of this organisation", false}},
			run: func(x *call) error {
				var users []adminapi.User
				return x.do("GET", query("/users", "org", x.flags["org"]), nil, &users, func() {
					x.table("users", []string{"ID", "ORG", "USERNAME", "NAME", "ROLE", "DEPARTMENT", "STATUS"}, rows(users, func(u adminapi.User) []string {
						return []string{u.ID, u.OrgID, u.UserName, u.Name, u.Role, u.Department, userStatus(u)}
					}))
				})
			},
		},
		command{
			name: "departments", summary: "show an organisation's department tree",
			flags: []flagSpec{{"org", "O", "the organisation", true}},
			run: func(x *call) error {
				var tree []adminapi.Department
				return x.do("GET", query("/departments", "org", x.flags["org"]), nil, &tree, func() {
					x.table("departments", []string{"CODE", "NAME", "PARENT"}, treeRows(tree))
				})
			},
		},
		command{
			name: "seats", summary: "list who holds which seat: licence, user, device, session",
			about: "A named-user licence counts a user's seats on several machines as one: the USERS column of\n" +
				"'license show' is what its seats limit.",
			flags: []flagSpec{{"license", "L", "only this licence's seats", false}},
			run:   seatHolders,
		},
		command{
			name: "license users", summary: "limit a licence to named users, and assign it to users", args: []string{"ID"},
			about: "--named yes limits the licence to the users the marketplace authorised (authSync) and those\n" +
				"given with --users (comma-separated ids, replacing the list); --named no lifts the limit. Seats\n" +
				"of a named-user licence are counted per user. A session of a user no longer named keeps its\n" +
				"seat until its next renewal.",
			flags: []flagSpec{{"named", "yes|no", "whether only named users may use the licence", true}, {"users", "IDS", "the users assigned, comma-separated", false}},
			run: func(x *call) error {
				req := adminapi.LicenseUsers{Users: []string{}}
				switch x.flags["named"] {
				case "yes":
					req.NamedUsers = true
				case "no":
				default:
					return usageError{errors.New("--named takes yes or no")}
				}
				for _, u := range strings.Split(x.flags["users"], ",") {
					if u = strings.TrimSpace(u); u != "" {
						req.Users = append(req.Users, u)
					}
				}
				var l adminapi.License
				return x.do("PUT", "/licenses/"+url.PathEscape(x.args[0])+"/users", req, &l, func() {
					fmt.Fprintf(x.stdout, "licence %s: named users %s; assigned: %s\n", l.ID, yesNo(l.NamedUsers), strings.Join(l.Users, ", "))
				})
			},
		},
	)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func userStatus(u adminapi.User) string {
	switch {
	case u.Deleted:
		return "deleted"
	case u.Disabled:
		return "disabled"
	case u.UserName != "" && !u.Authorised:
		return "revoked"
	}
	return "active"
}

// treeRows lists departments depth first, each indented under its parent.
func treeRows(tree []adminapi.Department) [][]string {
	kids := map[string][]adminapi.Department{}
	for _, d := range tree {
		kids[d.Parent] = append(kids[d.Parent], d)
	}
	var out [][]string
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		list := kids[parent]
		sort.Slice(list, func(i, j int) bool { return list[i].Code < list[j].Code })
		for _, d := range list {
			out = append(out, []string{strings.Repeat("  ", depth) + d.Code, d.Name, d.Parent})
			if depth < 64 {
				walk(d.Code, depth+1)
			}
		}
	}
	walk("", 0)
	return out
}

// seatHolder is one seat with the user who holds it.
type seatHolder struct {
	Seat       string `json:"seat"`
	License    string `json:"license"`
	UserID     string `json:"userId"`
	UserName   string `json:"userName,omitempty"`
	Name       string `json:"name,omitempty"`
	Department string `json:"department,omitempty"`
	Device     string `json:"device,omitempty"`
	Session    string `json:"session,omitempty"`
	Expires    string `json:"leaseExpires,omitempty"`
}

func seatHolders(x *call) error {
	api, err := x.client()
	if err != nil {
		return err
	}
	var seats []adminapi.Seat
	if err := api.Do(x.ctx, "GET", query("/seats", "license", x.flags["license"]), nil, &seats); err != nil {
		return err
	}
	var users []adminapi.User
	if err := api.Do(x.ctx, "GET", "/users", nil, &users); err != nil {
		return err
	}
	byID := make(map[string]adminapi.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	out := make([]seatHolder, len(seats))
	for i, s := range seats {
		u := byID[s.UserID]
		out[i] = seatHolder{Seat: s.ID, License: s.LicenseID, UserID: s.UserID, UserName: u.UserName, Name: u.Name,
			Department: u.Department, Device: s.Device, Session: s.SessionID, Expires: when(s.LeaseExpires)}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].License != out[j].License {
			return out[i].License < out[j].License
		}
		return out[i].UserID < out[j].UserID
	})
	if x.g.json {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(x.stdout, string(b))
		return err
	}
	per := map[string]map[string]bool{}
	for _, h := range out {
		if per[h.License] == nil {
			per[h.License] = map[string]bool{}
		}
		per[h.License][h.UserID] = true
	}
	x.table("seats in use", []string{"LICENSE", "USERS", "USER", "USERNAME", "NAME", "DEPARTMENT", "DEVICE", "SESSION", "LEASE EXPIRES"},
		rows(out, func(h seatHolder) []string {
			return []string{h.License, strconv.Itoa(len(per[h.License])), h.UserID, h.UserName, h.Name, h.Department, shorten(h.Device, 24), h.Session, h.Expires}
		}))
	return nil
}
