package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// The OpenID Connect providers organisations sign in through
// (docs/identity.md, "Configuring an OpenID Connect provider").
func init() {
	commandRoles["oidc set"] = adminapi.RoleLicenses
	commandRoles["oidc list"] = adminapi.RoleReadOnly
	commandRoles["oidc delete"] = adminapi.RoleLicenses
	commands = append(commands,
		command{
			name: "oidc set", summary: "configure an organisation's OpenID Connect provider", args: []string{"ID"},
			about: "Its users sign in through the provider, and a user who gives an email in one of --domains is\n" +
				"sent to it. Register iscd at the provider as a confidential client whose redirect URI is\n" +
				"https://ISCD/signin/callback. The client secret is read from --client-secret-file (its first\n" +
				"line; - for standard input), never from the command line; iscd keeps it sealed under its KEK.\n" +
				"iscd reads the issuer's discovery before keeping anything: it must answer and name itself.",
			flags: []flagSpec{{"org", "ORG", "the organisation whose users sign in through it", true},
				{"issuer", "URL", "the provider's issuer (https; http only on this machine's loopback)", true},
				{"client-id", "ID", "iscd's client id at the provider", true},
				{"client-secret-file", "FILE", "a file holding iscd's client secret (- : standard input)", true},
				{"domains", "LIST", "the email domains it answers for, comma-separated", false}},
			run: func(x *call) error {
				secret, err := readSecret(x.flags["client-secret-file"])
				if err != nil {
					return err
				}
				req := adminapi.PutOIDCProvider{OrgID: x.flags["org"], Issuer: x.flags["issuer"], ClientID: x.flags["client-id"],
					ClientSecret: secret, Domains: []string{}}
				for _, d := range strings.Split(x.flags["domains"], ",") {
					if d = strings.TrimSpace(d); d != "" {
						req.Domains = append(req.Domains, d)
					}
				}
				var p adminapi.OIDCProvider
				return x.do("PUT", "/oidc-providers/"+url.PathEscape(x.args[0]), req, &p, func() {
					fmt.Fprintf(x.stdout, "OIDC provider %s: organisation %s signs in at %s (domains: %s)\n", p.ID, p.OrgID, p.Issuer, strings.Join(p.Domains, ", "))
				})
			},
		},
		command{
			name: "oidc list", summary: "list the organisations' OpenID Connect providers",
			run: func(x *call) error {
				var ps []adminapi.OIDCProvider
				return x.do("GET", "/oidc-providers", nil, &ps, func() {
					x.table("OIDC providers", []string{"ID", "ORG", "ISSUER", "CLIENT", "DOMAINS"}, rows(ps, func(p adminapi.OIDCProvider) []string {
						return []string{p.ID, p.OrgID, p.Issuer, p.ClientID, strings.Join(p.Domains, ",")}
					}))
				})
			},
		},
		command{
			name: "oidc delete", summary: "delete an OpenID Connect provider (its users sign in no more through it)", args: []string{"ID"},
			run: func(x *call) error {
				return x.do("DELETE", "/oidc-providers/"+url.PathEscape(x.args[0]), nil, nil, func() {
					fmt.Fprintf(x.stdout, "OIDC provider %s deleted\n", x.args[0])
				})
			},
		},
	)
}

// readSecret reads a client secret: the first line of path (- : stdin).
func readSecret(path string) (string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--client-secret-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(io.LimitReader(r, maxTokenInput))
	if !sc.Scan() || strings.TrimSpace(sc.Text()) == "" {
		return "", errors.New("--client-secret-file: no secret in it")
	}
	return strings.TrimSpace(sc.Text()), nil
}
