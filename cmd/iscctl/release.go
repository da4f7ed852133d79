package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/semver"
	"github.com/iscsdk/iscsdk/internal/store"
	"github.com/iscsdk/iscsdk/sdk"
)

// The release commands (docs/upgrades.md). iscd signs a release with the
// product's licence signing key when it is published: that key never
// leaves iscd, so iscctl uploads the package and iscd vouches for it.
func init() {
	commands = append(commands,
		command{
			name: "release publish", summary: "upload an upgrade package and publish it as a release", args: []string{"PACKAGE"},
			about: "The package is chunked and only the chunks iscd lacks are sent (a publish that failed half-way\n" +
				"sends the rest when run again); iscd then signs the release with the product's key. A version is\n" +
				"published once per platform. --install-command is the silent-install command, with {package}\n" +
				"(the package's path on the user's machine), {dir} and {version}; default: the package itself.",
			flags: []flagSpec{
				{"product", "P", "the product's id", true},
				{"version", "V", "the release's semantic version, e.g. 2024.2.0", true},
				{"platform", "OS-ARCH", "the programs it is for, e.g. windows-amd64 (default: " + sdk.Platform() + ")", false},
				{"notes", "TEXT", "release notes shown to the user", false},
				{"forced", "", "programs older than this version must upgrade", false},
				{"min-supported", "V", "programs older than V must upgrade (forced), whatever --forced says", false},
				{"install-command", "CMD", `silent-install command, e.g. "{package} /S"`, false},
				{"name", "FILE", "the package's file name on the user's machine (default: PACKAGE's name)", false},
			},
			transfer: true,
			run:      publishRelease,
		},
		command{
			name: "release list", summary: "list a product's releases, newest first",
			flags: []flagSpec{{"product", "P", "the product's id", true}, {"platform", "OS-ARCH", "only this platform", false}},
			run: func(x *call) error {
				var rs []store.Release
				path := query("/releases", "product", x.flags["product"])
				if p := x.flags["platform"]; p != "" {
					path += "&platform=" + url.QueryEscape(p)
				}
				return x.do("GET", path, nil, &rs, func() { x.table("releases", releaseHeader, rows(rs, releaseRow)) })
			},
		},
		command{
			name: "release withdraw", summary: "stop offering a release (its version is not reused)", args: []string{"VERSION"},
			flags: []flagSpec{{"product", "P", "the product's id", true}, {"platform", "OS-ARCH", "its platform (default: " + sdk.Platform() + ")", false}},
			run: func(x *call) error {
				platform := x.flags["platform"]
				if platform == "" {
					platform = sdk.Platform()
				}
				path := "/releases/" + url.PathEscape(x.flags["product"]) + "/" + url.PathEscape(platform) + "/" + url.PathEscape(x.args[0])
				return x.do("DELETE", path, nil, nil, func() {
					fmt.Fprintf(x.stdout, "withdrew %s %s of %s\n", x.args[0], platform, x.flags["product"])
				})
			},
		},
	)
}

var releaseHeader = []string{"VERSION", "PLATFORM", "FORCED", "MIN", "SIZE", "FILE", "PUBLISHED"}

func releaseRow(r store.Release) []string {
	forced := ""
	if r.Forced {
		forced = "forced"
	}
	return []string{r.Version, r.Platform, forced, r.MinSupported, size(r.Size), clean(r.FileName), when(r.Published)}
}

// publishRelease runs "release publish". The flags are checked before
// anything is sent.
func publishRelease(x *call) error {
	pkg := x.args[0]
	req := adminapi.PublishRelease{
		ProductID: x.flags["product"], Platform: x.flags["platform"], Notes: x.flags["notes"],
		Forced: x.flags["forced"] != "", InstallCommand: x.flags["install-command"], FileName: x.flags["name"],
	}
	v, err := semver.Parse(strings.TrimSpace(x.flags["version"]))
	if err != nil {
		return badFlag("--version: %v", err)
	}
	req.Version = v.String()
	if m := x.flags["min-supported"]; m != "" {
		mv, err := semver.Parse(m)
		if err != nil {
			return badFlag("--min-supported: %v", err)
		}
		req.MinSupported = mv.String()
	}
	if req.Platform == "" {
		req.Platform = sdk.Platform()
	}
	if req.FileName == "" {
		req.FileName = filepath.Base(pkg)
	}
	if err := release.CheckFileName(req.FileName); err != nil {
		return badFlag("--name: %v", err)
	}
	if _, err := release.Command(req.InstallCommand, "p", "d", req.Version); err != nil {
		return badFlag("--install-command: %v", err)
	}
	f, err := os.Open(pkg)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", pkg)
	}
	api, err := x.client()
	if err != nil {
		return err
	}
	api.HTTP.Timeout = 0 // the publish of a large manifest takes its time; Ctrl-C ends it
	bar := x.progress("publish " + req.FileName)
	out, err := api.PublishRelease(x.ctx, req, f, func(done int64) {
		bar.update(sdk.Progress{BytesDone: done, BytesTotal: st.Size()})
	})
	bar.clear()
	if err != nil {
		return err
	}
	if x.g.json {
		return x.printJSON(out)
	}
	r := out.Release
	fmt.Fprintf(x.stdout, "published %s %s of %s: %s, SHA-256 %s, signed by key %s\n", r.Version, r.Platform, r.ProductID, size(r.Size), r.SHA256, r.KeyID)
	if out.Pushed > 0 {
		fmt.Fprintf(x.stdout, "told %d running %s of it\n", out.Pushed, plural(out.Pushed, "program", "programs"))
	}
	return nil
}
