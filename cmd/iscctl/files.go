package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/cloudpath"
	"github.com/iscsdk/iscsdk/internal/wire"
	"github.com/iscsdk/iscsdk/sdk"
	"golang.org/x/term"
)

// The file commands are a user's operations on their organisation's cloud
// files. They open an SDK session as that user (not the admin API), do one
// thing, and shut it out.

const userHelp = `
session flags (after the command; each falls back to its variable, then to the
SDK's credentials file, $ISCSDK_CREDENTIALS, whose KEY=VALUE lines iscd serve --dev
writes to DATA/dev.env):
  --endpoint URL        iscd's session endpoint, ws://HOST:PORT ($ISCSDK_ENDPOINT)
  --user-token TOKEN    the user's API token, isk_... ($ISCSDK_TOKEN, or the credentials file;
                        on the command line other users can read it: iscctl warns)
  --product ID          the product the session is for ($ISCSDK_PRODUCT)
  --json                print the SDK's result as JSON instead of text
The SDK's workspace is $ISCSDK_WORKSPACE (default: the user's cache directory + /iscsdk).

Exit status: 0 on success, 1 when the call fails, 2 when the command line is wrong.
`

// userConfig is the session's configuration from iscctl's environment;
// the SDK fills what is still empty from the credentials file.
func userConfig(env func(string) string) sdk.Config {
	level := env(sdk.EnvLog)
	if level == "" {
		level = "off" // iscctl reports on stderr; no log file to fill
	}
	return sdk.Config{
		Endpoint: env(sdk.EnvEndpoint), Token: env(sdk.EnvToken), ProductID: env(sdk.EnvProduct),
		AppVersion: "iscctl " + sdk.Version, WorkspaceDir: env(sdk.EnvWorkspace), LogLevel: level,
		CAFile: env(sdk.EnvCAFile), CredentialsFile: env(sdk.EnvCreds),
	}
}

func (g *globals) registerUser(fs *flag.FlagSet) {
	fs.StringVar(&g.user.Endpoint, "endpoint", g.user.Endpoint, "iscd's session endpoint, ws://HOST:PORT ($ISCSDK_ENDPOINT)")
	fs.Var(tokenFlag{&g.user.Token, &g.userTokenOnCommandLine}, "user-token", "the user's API token, isk_... ($ISCSDK_TOKEN; on the command line other users see it)")
	fs.StringVar(&g.user.ProductID, "product", g.user.ProductID, "the product the session is for ($ISCSDK_PRODUCT)")
}

// session opens the user's session; the caller shuts it out.
func (x *call) session() (*sdk.Client, error) {
	return sdk.Init(x.ctx, x.g.user)
}

// cloudArg checks a cloud path argument: a mistake in it is a usage error.
func cloudArg(p string) (string, error) {
	cp, err := cloudpath.Check(p)
	if err != nil {
		return "", usageError{err}
	}
	return cp, nil
}

// failed words a failed file operation: the service's message for its
// refusals, without the SDK's plumbing ("save /a: files.commit: ...").
type failed struct {
	verb, path string // "put", "/a.prt"
	err        error
}

func (f failed) Error() string {
	var we *wire.Error
	switch {
	case errors.As(f.err, &we) && strings.Contains(we.Message, f.path):
		return f.verb + ": " + we.Message
	case errors.As(f.err, &we):
		return f.verb + " " + f.path + ": " + we.Message
	case errors.Is(f.err, context.Canceled):
		return f.verb + " " + f.path + ": interrupted; nothing was saved or written"
	case errors.Is(f.err, sdk.ErrConfig):
		// "iscsdk: invalid configuration: no token (set Config.Token or
		// ISCSDK_TOKEN)": the hint says how, in iscctl's words.
		msg := strings.TrimPrefix(f.err.Error(), sdk.ErrConfig.Error()+": ")
		msg, _, _ = strings.Cut(msg, " (set Config.")
		return "cannot open a session: " + msg
	}
	return strings.TrimSpace(f.verb+" "+f.path) + ": " + strings.TrimPrefix(f.err.Error(), "iscsdk: ")
}

func (f failed) Unwrap() error { return f.err }

// fileHint suggests a fix for a failed file command, or returns "".
func (x *call) fileHint(err error) string {
	var we *wire.Error
	cfg := x.g.user
	switch {
	case errors.As(err, &we) && we.Code == wire.CodeConflict && strings.Contains(we.Message, "started from"):
		return "someone saved the file since; 'iscctl history' shows who. Put without --base to save on top of the latest version"
	case errors.As(err, &we) && we.Code == wire.CodeLocked:
		return "another user has it checked out; they release it with 'iscctl unlock', an operator with 'iscctl unlock --force --org ORG'"
	case errors.Is(err, sdk.ErrConfig) && strings.Contains(err.Error(), "in clear"):
		return "anyone on the network path could read the token: use wss://, or --insecure if this network is trusted"
	case errors.Is(err, sdk.ErrConfig):
		creds := cfg.CredentialsFile
		if creds == "" {
			creds = sdk.DefaultCredentialsFile()
		}
		return fmt.Sprintf("the file commands need --endpoint, --user-token (a user's isk_ token: 'iscctl token create --user ID') and --product,\n"+
			"or $ISCSDK_ENDPOINT, $ISCSDK_TOKEN and $ISCSDK_PRODUCT, or those KEY=VALUE lines in %s", creds)
	case errors.Is(err, sdk.ErrUnauthorized) && strings.HasPrefix(cfg.Token, "isa_"):
		return "that is an admin token (isa_...); the file commands take a user's API token (isk_...)"
	case errors.Is(err, sdk.ErrUnauthorized):
		return "check --user-token or $ISCSDK_TOKEN"
	case errors.Is(err, sdk.ErrUnreachable):
		return fmt.Sprintf("is iscd running at %s? (--endpoint, $ISCSDK_ENDPOINT)", x.endpoint())
	}
	return ""
}

// endpoint names the session's endpoint in messages; it may come from the
// credentials file, which only the SDK reads.
func (x *call) endpoint() string {
	if e := x.g.user.Endpoint; e != "" {
		return e
	}
	return "the credentials file's endpoint"
}

// withSession runs fn in a new session and shuts it out. Its errors are
// worded as "verb path: why".
func (x *call) withSession(verb, path string, fn func(c *sdk.Client) error) error {
	c, err := x.session()
	if err != nil {
		return failed{"connect to", x.endpoint(), err}
	}
	defer c.Close()
	if err := fn(c); err != nil {
		return failed{verb, path, err}
	}
	return nil
}

// ---- ls ----

func listFiles(x *call) error {
	dir := "/"
	if len(x.args) > 0 && x.args[0] != "/" {
		var err error
		if dir, err = cloudArg(x.args[0]); err != nil {
			return err
		}
	}
	paged, cursor, limit, err := pageFlags(x)
	if err != nil {
		return err
	}
	return x.withSession("ls", dir, func(c *sdk.Client) error {
		var l sdk.Listing
		var err error
		if paged {
			l, err = c.ListPage(x.ctx, dir, cursor, limit)
		} else {
			l, err = c.List(x.ctx, dir) // every page
		}
		if err != nil {
			return err
		}
		defer x.morePages("ls "+dir, l.Next)
		if len(l.Folders) == 0 && len(l.Files) == 0 && dir != "/" && cursor == "" {
			// A file's path lists that file.
			if fi, err := c.Stat(x.ctx, dir); err == nil {
				l.Files = []sdk.FileInfo{fi}
			}
		}
		if x.g.json {
			return x.printJSON(l)
		}
		var rows [][]string
		for _, f := range l.Folders {
			rows = append(rows, []string{cloudpath.Base(f) + "/", "folder", "", "", "", ""})
		}
		for _, f := range l.Files {
			kind := "file"
			if f.Assembly {
				kind = "assembly"
			}
			rows = append(rows, []string{cloudpath.Base(f.Path), kind, strconv.Itoa(f.Version), size(f.Size), when(f.Updated), f.LockedBy})
		}
		x.table("files in "+dir, []string{"NAME", "KIND", "VERSION", "SIZE", "UPDATED", "LOCKED BY"}, rows)
		return nil
	})
}

// ---- put ----

func putFile(x *call) error {
	local, cp := x.args[0], x.args[1]
	if strings.HasSuffix(cp, "/") { // a folder: keep the local name
		cp += filepath.Base(filepath.Clean(local))
	}
	cp, err := cloudArg(cp)
	if err != nil {
		return err
	}
	base := -1 // on top of the latest
	if v := strings.TrimSpace(x.flags["base"]); v != "" {
		if base, err = strconv.Atoi(v); err != nil || base < 0 {
			return badFlag("--base %q is not a version number (0 or more)", x.flags["base"])
		}
	}
	assembly := x.flags["assembly"] != ""
	st, err := os.Stat(local)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("put: no local file or folder %s", local)
	case err != nil:
		return fmt.Errorf("put: %w", err)
	case st.IsDir() && !assembly:
		return usageError{fmt.Errorf("%s is a folder: add --assembly to save it as an assembly", local)}
	case !st.IsDir() && assembly:
		return usageError{fmt.Errorf("--assembly: %s is a file, not a folder", local)}
	}
	return x.withSession("put", cp, func(c *sdk.Client) error {
		if base < 0 {
			fi, err := c.Stat(x.ctx, cp)
			var we *wire.Error
			switch {
			case err == nil:
				base = fi.Version
			case errors.As(err, &we) && we.Code == wire.CodeNotFound:
				base = 0
			default:
				return err
			}
		}
		bar := x.progress("put " + cp)
		res, err := c.SaveTo(x.ctx, local, cp, base, sdk.SaveOptions{Assembly: assembly, CheckIn: x.flags["checkin"] != "", Progress: bar.update})
		bar.clear()
		if err != nil {
			return err
		}
		if x.g.json {
			return x.printJSON(res)
		}
		fmt.Fprintf(x.stdout, "saved %s version %d: sent %s of %s (%d of %d %s)\n", clean(res.CloudPath), res.Version,
			size(res.BytesSent), size(res.Size), res.ChunksSent, res.ChunksTotal, plural(res.ChunksTotal, "chunk", "chunks"))
		return nil
	})
}

// ---- get ----

func getFile(x *call) error {
	cp, err := cloudArg(x.args[0])
	if err != nil {
		return err
	}
	return x.withSession("get", cp, func(c *sdk.Client) error {
		bar := x.progress("get " + cp)
		res, err := c.OpenFile(x.ctx, cp, sdk.OpenOptions{Checkout: x.flags["checkout"] != "", Progress: bar.update})
		bar.clear()
		if err != nil {
			return err
		}
		dst, err := x.outPath(cp)
		if err != nil {
			return err
		}
		if res.Assembly {
			err = copyTree(res.MainFile, dst)
		} else {
			err = copyFile(res.MainFile, dst)
		}
		if err != nil {
			return err
		}
		res.MainFile = dst
		if x.g.json {
			return x.printJSON(res)
		}
		fmt.Fprintf(x.stdout, "got %s version %d into %s: fetched %s; %d of %d %s already here\n", clean(cp), res.Version, clean(dst),
			size(res.BytesFetched), res.ChunksReused, res.ChunksTotal, plural(res.ChunksTotal, "chunk was", "chunks were"))
		if res.CheckedOut {
			fmt.Fprintf(x.stdout, "checked out %s: save it back with 'iscctl put %s %s --checkin'\n", clean(cp), clean(dst), clean(cp))
		}
		return nil
	})
}

// outPath is where get writes a cloud file: --out (inside it if it is a
// folder), else its name in the current directory. It is absolute.
func (x *call) outPath(cp string) (string, error) {
	out := x.flags["out"]
	if out == "" {
		out = cloudpath.Base(cp)
	} else if st, err := os.Stat(out); err == nil && st.IsDir() {
		out = filepath.Join(out, cloudpath.Base(cp))
	}
	return filepath.Abs(out)
}

// copyFile copies src to dst through a temporary file beside dst, so dst
// is either its old content or the whole new one. Mode and time are kept.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing to remove
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), st.Mode().Perm()); err != nil {
		return err
	}
	_ = os.Chtimes(tmp.Name(), st.ModTime(), st.ModTime())
	return os.Rename(tmp.Name(), dst)
}

// copyTree copies an assembly folder to dst, which must not exist: a
// folder merged into an older one would keep files the assembly no longer
// has. It is built beside dst and renamed into place.
func copyTree(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("%s already exists; remove it or choose another --out", dst)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after the rename: nothing to remove
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(tmp, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(to, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, to)
		}
		return nil // the SDK writes only folders and regular files
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	return os.Rename(tmp, dst)
}

// ---- pages ----

// pageFlags reads --limit and --cursor: with either, a command shows one
// page; without, every page.
func pageFlags(x *call) (paged bool, cursor string, limit int, err error) {
	cursor = x.flags["cursor"]
	if v := strings.TrimSpace(x.flags["limit"]); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > wire.MaxPageLimit {
			return false, "", 0, badFlag("--limit %q is not a number from 1 to %d", v, wire.MaxPageLimit)
		}
	}
	return cursor != "" || limit > 0, cursor, limit, nil
}

// morePages says how to get the page after this one, if there is one.
func (x *call) morePages(cmd, next string) {
	if next != "" {
		fmt.Fprintf(x.stderr, "more: iscctl %s --cursor %s\n", cmd, shellQuote(next))
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ---- history, lock, unlock ----

func fileHistory(x *call) error {
	cp, err := cloudArg(x.args[0])
	if err != nil {
		return err
	}
	paged, cursor, limit, err := pageFlags(x)
	if err != nil {
		return err
	}
	return x.withSession("history", cp, func(c *sdk.Client) error {
		var vs []sdk.FileVersion
		if paged {
			h, err := c.HistoryPage(x.ctx, cp, cursor, limit)
			if err != nil {
				return err
			}
			defer x.morePages("history "+cp, h.Next)
			if x.g.json {
				return x.printJSON(h)
			}
			vs = h.Versions
		} else if vs, err = c.History(x.ctx, cp); err != nil { // every page
			return err
		}
		if x.g.json {
			return x.printJSON(vs)
		}
		x.table("versions of "+cp, []string{"VERSION", "TIME", "AUTHOR", "SIZE", "FILES", "HASH"}, rows(vs, func(v sdk.FileVersion) []string {
			return []string{strconv.Itoa(v.Number), when(v.Time), v.Author, size(v.Size), strconv.Itoa(v.Files), shorten(v.Hash, 13)}
		}))
		return nil
	})
}

func lockFile(x *call) error {
	cp, err := cloudArg(x.args[0])
	if err != nil {
		return err
	}
	return x.withSession("lock", cp, func(c *sdk.Client) error {
		fi, err := c.CheckOut(x.ctx, cp)
		if err != nil {
			return err
		}
		return x.printInfo(fi, fmt.Sprintf("checked out %s (version %d): only you may save it until you unlock it", clean(fi.Path), fi.Version))
	})
}

func unlockFile(x *call) error {
	cp, err := cloudArg(x.args[0])
	if err != nil {
		return err
	}
	force, org := x.flags["force"] != "", strings.TrimSpace(x.flags["org"])
	switch {
	case force && org == "":
		return badFlag("--force needs --org: the organisation whose file it is")
	case !force && org != "":
		return badFlag("--org is for --force; your own check-out is released without it")
	case force:
		// The operator's way: the admin API, no user session.
		api, err := x.client()
		if err != nil {
			return err
		}
		var fi wire.FileInfo
		if err := api.Do(x.ctx, "POST", "/files/unlock", adminapi.UnlockFile{OrgID: org, Path: cp}, &fi); err != nil {
			return err
		}
		return x.printInfo(sdk.FileInfo(fi), fmt.Sprintf("checked in %s of org %s: its check-out is broken", clean(fi.Path), clean(org)))
	}
	return x.withSession("unlock", cp, func(c *sdk.Client) error {
		fi, err := c.CheckIn(x.ctx, cp)
		if err != nil {
			return err
		}
		return x.printInfo(fi, fmt.Sprintf("checked in %s (version %d)", clean(fi.Path), fi.Version))
	})
}

// printInfo prints a FileInfo as JSON, or line.
func (x *call) printInfo(fi sdk.FileInfo, line string) error {
	if x.g.json {
		return x.printJSON(fi)
	}
	_, err := fmt.Fprintln(x.stdout, line)
	return err
}

// ---- sizes and progress ----

// size is n bytes for people: 812 B, 44 KiB, 8.0 MiB, 2.0 GiB.
func size(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// isTerminal reports whether w is a terminal. A character device is not
// enough (/dev/null is one): x/term asks the terminal driver (TCGETS, or
// GetConsoleMode on Windows).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar draws a transfer's progress on one line of a terminal.
// A nil *progressBar draws nothing.
type progressBar struct {
	w     io.Writer
	label string
	every time.Duration

	mu    sync.Mutex
	last  time.Time
	drawn bool
}

// progress returns the bar of a transfer: nil (no bar) unless stderr is a
// terminal and the output is not --json.
func (x *call) progress(label string) *progressBar {
	if !x.term {
		return nil
	}
	return &progressBar{w: x.stderr, label: shorten(clean(label), 40), every: 100 * time.Millisecond}
}

const barWidth = 24

// update redraws the bar, at most once every b.every (the end always).
func (b *progressBar) update(p sdk.Progress) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if done := p.BytesDone >= p.BytesTotal; !done && now.Sub(b.last) < b.every {
		return
	}
	b.last, b.drawn = now, true
	frac := 1.0
	if p.BytesTotal > 0 {
		frac = min(float64(p.BytesDone)/float64(p.BytesTotal), 1)
	}
	full := int(frac * barWidth)
	fmt.Fprintf(b.w, "\r%s [%s%s] %3.0f%% %s of %s\x1b[K", b.label, strings.Repeat("=", full), strings.Repeat(" ", barWidth-full),
		frac*100, size(p.BytesDone), size(p.BytesTotal))
}

// clear removes the bar, leaving the cursor at the start of its line.
func (b *progressBar) clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// pageFlagSpecs are the flags of the commands that list in pages.
var pageFlagSpecs = []flagSpec{
	{"limit", "N", "one page of at most N entries (at most 1000)", false},
	{"cursor", "C", "the page after C (printed after the previous page)", false},
}
