package main

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// The identity commands: who the users are (as the marketplace synced
// them or an operator made them), the department tree, who holds which
// seat, and which users a named-user licence admits (docs/identity.md).
func init() {
	commandRoles["departments"] = adminapi.RoleReadOnly
	commandRoles["license users"] = adminapi.RoleLicenses
	commands = append(commands,
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

// seatHolders is seats list: the seats with the names of the users who
// hold them.
func seatHolders(x *call) error {
	var seats []adminapi.Seat
	if err := x.do("GET", query("/seats", "license", x.flags["license"]), nil, &seats, func() {}); err != nil || x.g.json {
		return err
	}
	var users []adminapi.User
	if err := x.do("GET", "/users", nil, &users, func() {}); err != nil {
		return err
	}
	byID := make(map[string]adminapi.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	x.table("seats in use", []string{"ID", "LICENSE", "SESSION", "USER", "USERNAME", "NAME", "DEPARTMENT", "DEVICE", "ACQUIRED", "LEASE EXPIRES"},
		rows(seats, func(s adminapi.Seat) []string {
			u := byID[s.UserID]
			return []string{s.ID, s.LicenseID, s.SessionID, s.UserID, u.UserName, u.Name, u.Department, shorten(s.Device, 24), when(s.Acquired), when(s.LeaseExpires)}
		}))
	return nil
}
