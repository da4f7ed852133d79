package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/release"
	"github.com/iscsdk/iscsdk/internal/semver"
	"github.com/iscsdk/iscsdk/sdk"
)

// The release commands (docs/upgrades.md). A release is signed with the
// vendor's release key, offline, where the vendor builds it (release
// sign); iscd stores and serves the signature and never sees the key, and
// programs verify the signature with the release public key compiled into
// them. So neither iscd nor an admin token can make a desktop run code.

// statementFlags are the flags that decide a release's signed statement,
// shared by release sign and release publish.
var statementFlags = []flagSpec{
	{"product", "P", "the product's id", true},
	{"version", "V", "the release's semantic version, e.g. 2024.2.0", true},
	{"platform", "OS-ARCH", "the programs it is for, e.g. windows-amd64 (default: " + sdk.Platform() + ")", false},
	{"install-command", "CMD", `silent-install command, e.g. "{package} /S"`, false},
	{"name", "FILE", "the package's file name on the user's machine (default: PACKAGE's name)", false},
}

func init() {
	commands = append(commands,
		command{
			name: "release key generate", summary: "make a release key: the private key to a file, the public key printed", offline: true,
			about: "The private key signs releases (iscctl release sign). Keep it offline, where releases are built,\n" +
				"never beside iscd. The public key (printed) goes into the program: sdk Config.ReleaseKeys,\n" +
				"iscsdk_options.release_key or $ISCSDK_RELEASE_KEY. The file is created, never overwritten.",
			flags: []flagSpec{{"out", "FILE", "where to write the private key (mode 0600)", true}},
			run:   generateReleaseKey,
		},
		command{
			name: "release sign", summary: "sign an upgrade package with the release key, offline", args: []string{"PACKAGE"}, offline: true,
			about: "Signs the release's statement (product, platform, version, file name, size, SHA-256, install\n" +
				"command) and writes it with its signature to --out (default: PACKAGE.sig), for release publish\n" +
				"--signature. Needs no iscd: run it where the release key is kept.",
			flags: append(slices.Clone(statementFlags),
				flagSpec{"key", "FILE", "the release key's file (iscctl release key generate)", true},
				flagSpec{"out", "FILE", "where to write the signature (default: PACKAGE.sig)", false}),
			run: signRelease,
		},
		command{
			name: "release publish", summary: "upload a signed upgrade package and publish it as a release", args: []string{"PACKAGE"},
			about: "The package is chunked and only the chunks iscd lacks are sent (a publish that failed half-way\n" +
				"sends the rest when run again). The release carries the signature of release sign (--signature,\n" +
				"checked against the package and the flags first), or one made here with --key. A version is\n" +
				"published once per platform. --install-command is the silent-install command, with {package}\n" +
				"(the package's path on the user's machine), {dir} and {version}; default: the package itself.",
			flags: append(slices.Clone(statementFlags),
				flagSpec{"signature", "FILE", "the signature release sign wrote (or --key)", false},
				flagSpec{"key", "FILE", "sign with this release key file now (or --signature)", false},
				flagSpec{"notes", "TEXT", "release notes shown to the user", false},
				flagSpec{"forced", "", "programs older than this version must upgrade", false},
				flagSpec{"min-supported", "V", "programs older than V must upgrade (forced), whatever --forced says", false}),
			transfer: true,
			run:      publishRelease,
		},
		command{
			name: "release list", summary: "list a product's releases, newest first",
			flags: []flagSpec{{"product", "P", "the product's id", true}, {"platform", "OS-ARCH", "only this platform", false}},
			run: func(x *call) error {
				var rs []adminapi.Release
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

func releaseRow(r adminapi.Release) []string {
	forced := ""
	if r.Forced {
		forced = "forced"
	}
	return []string{r.Version, r.Platform, forced, r.MinSupported, size(r.Size), clean(r.FileName), when(r.Published)}
}

// releaseRequest reads the statement flags (and publish's) into a
// request, checked.
func releaseRequest(x *call) (adminapi.PublishRelease, error) {
	req := adminapi.PublishRelease{
		ProductID: x.flags["product"], Platform: x.flags["platform"], Notes: x.flags["notes"],
		Forced: x.flags["forced"] != "", InstallCommand: x.flags["install-command"], FileName: x.flags["name"],
	}
	v, err := semver.Parse(strings.TrimSpace(x.flags["version"]))
	if err != nil {
		return req, badFlag("--version: %v", err)
	}
	req.Version = v.String()
	if m := x.flags["min-supported"]; m != "" {
		mv, err := semver.Parse(m)
		if err != nil {
			return req, badFlag("--min-supported: %v", err)
		}
		req.MinSupported = mv.String()
	}
	if req.Platform == "" {
		req.Platform = sdk.Platform()
	}
	if req.FileName == "" {
		req.FileName = filepath.Base(x.args[0])
	}
	if err := release.CheckFileName(req.FileName); err != nil {
		return req, badFlag("--name: %v", err)
	}
	if _, err := release.Command(req.InstallCommand, "p", "d", req.Version); err != nil {
		return req, badFlag("--install-command: %v", err)
	}
	return req, nil
}

// maxKeyFile bounds a release key or signature file.
const maxKeyFile = 64 << 10

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err == nil && len(b) > maxKeyFile {
		err = fmt.Errorf("%s: larger than %d KiB", path, maxKeyFile>>10)
	}
	return b, err
}

func readReleaseKey(path string) (release.PrivateKey, error) {
	b, err := readSmall(path)
	if err != nil {
		return release.PrivateKey{}, fmt.Errorf("release key: %w", err)
	}
	k, err := release.ParsePrivateKey(string(b))
	if err != nil {
		return k, fmt.Errorf("release key %s: %w", path, err)
	}
	return k, nil
}

func generateReleaseKey(x *call) error {
	k, err := release.GenerateKey()
	if err != nil {
		return err
	}
	path := x.flags["out"]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("release key: %w", err)
	}
	if _, err := f.WriteString(k.Marshal() + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("release key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("release key: %w", err)
	}
	fmt.Fprintln(x.stdout, k.Public())
	fmt.Fprintf(x.stderr, "wrote release key %s to %s: keep it offline; the line above is its public key, for the programs\n", k.ID, path)
	return nil
}

// packageStatement reads the package and returns req's statement of it.
func packageStatement(ctx context.Context, req adminapi.PublishRelease, pkg string) (release.Statement, error) {
	f, err := os.Open(pkg)
	if err != nil {
		return release.Statement{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, readerCtx{ctx, f})
	if err != nil {
		return release.Statement{}, fmt.Errorf("read %s: %w", pkg, err)
	}
	return adminapi.Statement(req, n, hex.EncodeToString(h.Sum(nil))), nil
}

// readerCtx stops reading when ctx ends (Ctrl-C on a large package).
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func signRelease(x *call) error {
	req, err := releaseRequest(x)
	if err != nil {
		return err
	}
	key, err := readReleaseKey(x.flags["key"])
	if err != nil {
		return err
	}
	st, err := packageStatement(x.ctx, req, x.args[0])
	if err != nil {
		return err
	}
	sig, err := release.Sign(st, key)
	if err != nil {
		return err
	}
	out := x.flags["out"]
	if out == "" {
		out = x.args[0] + ".sig"
	}
	b, err := json.MarshalIndent(release.Signed{Statement: st, Signature: sig}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(x.stdout, "signed %s %s of %s (%s, SHA-256 %s) with release key %s: %s\n", st.Version, st.Platform, st.Product, size(st.Size), st.SHA256, key.ID, out)
	return nil
}

// releaseSigner is publish's signer: --signature or --key.
func releaseSigner(x *call) (release.Signer, error) {
	sigFile, keyFile := x.flags["signature"], x.flags["key"]
	switch {
	case sigFile != "" && keyFile != "":
		return nil, badFlag("--signature and --key: give one")
	case keyFile != "":
		return readReleaseKey(keyFile)
	case sigFile != "":
		b, err := readSmall(sigFile)
		if err != nil {
			return nil, fmt.Errorf("signature: %w", err)
		}
		var s release.Signed
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("signature %s: %w", sigFile, err)
		}
		if err := release.CheckSignature(s.Signature); err != nil {
			return nil, fmt.Errorf("signature %s: %w", sigFile, err)
		}
		return s, nil
	}
	return nil, badFlag("a release is published signed: --signature FILE (from iscctl release sign) or --key FILE")
}

// publishRelease runs "release publish". The flags and the signature are
// checked before anything is sent; the package's statement is checked
// against the signature's as it is uploaded, before it is published.
func publishRelease(x *call) error {
	pkg := x.args[0]
	req, err := releaseRequest(x)
	if err != nil {
		return err
	}
	signer, err := releaseSigner(x)
	if err != nil {
		return err
	}
	if s, ok := signer.(release.Signed); ok {
		// The flags first: a mismatch there is found before any upload.
		want := adminapi.Statement(req, s.Statement.Size, s.Statement.SHA256)
		if _, err := s.Sign(want); err != nil {
			return badFlag("--signature %s: %v", x.flags["signature"], err)
		}
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
	out, err := api.PublishRelease(x.ctx, req, f, signer, func(done int64) {
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
	fmt.Fprintf(x.stdout, "published %s %s of %s: %s, SHA-256 %s, signed by release key %s\n", r.Version, r.Platform, r.ProductID, size(r.Size), r.SHA256, r.KeyID)
	if out.Pushed > 0 {
		fmt.Fprintf(x.stdout, "told %d running %s of it\n", out.Pushed, plural(out.Pushed, "program", "programs"))
	}
	return nil
}
