package sdk

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/release"
)

// The hand-off: at Close (ShutOut) a staged package is checked once more and
// given to a detached installer process that waits until the program's
// process has ended (it holds the read end of a pipe whose write end only
// this process has: the kernel closes it when the process exits, however
// it exits), then runs the install command, and writes the command's exit
// code into the workspace. The next Init reads it and raises an
// UpgradeResult event.

// outcome is a hand-off's result known before any installer ran (the
// package was refused, or the installer could not start).
type outcome struct {
	Version   string `json:"version"`
	ErrorCode string `json:"errorCode"`
	ErrorMsg  string `json:"errorMsg"`
}

// handOff starts the installer of the staged package, unless the host
// runs installers itself (Config.NoAutoInstall). Called by Close.
func (u *upgrader) handOff() {
	if u.c.cfg.NoAutoInstall {
		return
	}
	s, ok := readJSON[staged](u.path("staged.json"))
	if !ok {
		return
	}
	if u.atLeast(s.Statement.Version) {
		u.cleanUp(s) // the program is there already
		return
	}
	refuse := func(code, msg string) {
		u.c.log.Warn("staged upgrade not installed", "version", s.Statement.Version, "code", code, "err", msg)
		_ = writeJSON(u.path("outcome.json"), outcome{Version: s.Statement.Version, ErrorCode: code, ErrorMsg: msg})
		u.cleanUp(s)
	}
	// The workspace is the user's: check again what is about to run.
	if code, err := u.verify(s.Statement, s.Signature); err != nil {
		refuse(code, err.Error())
		return
	}
	if h, err := fileHash(s.Package); err != nil || h.String() != s.Statement.SHA256 || s.Package != filepath.Join(u.dir, s.Statement.Version, s.Statement.FileName) {
		refuse(UpgradeBadPackage, "the staged package was changed or removed since it was verified")
		return
	}
	argv, err := release.Command(s.Statement.InstallCommand, s.Package, filepath.Dir(s.Package), s.Statement.Version)
	if err != nil {
		refuse(UpgradeBadPackage, err.Error())
		return
	}
	s.Result = filepath.Join(filepath.Dir(s.Package), "exit-code")
	s.Log = u.path("install.log")
	s.Started = time.Now().UTC()
	os.Remove(s.Result)
	if err := writeJSON(u.path("installing.json"), s); err != nil {
		u.c.log.Error("record the hand-off", "err", err)
		return
	}
	os.Remove(u.path("staged.json"))
	if err := startInstaller(argv, filepath.Dir(s.Package), s.Log, s.Result); err != nil {
		os.Remove(u.path("installing.json"))
		refuse(UpgradeInstallStart, err.Error())
		return
	}
	u.c.log.Info("installer handed over: it runs when the program has exited", "version", s.Statement.Version, "command", argv)
}

// cleanUp removes a staged package and its records.
func (u *upgrader) cleanUp(s staged) {
	os.Remove(u.path("staged.json"))
	os.Remove(u.path("installing.json"))
	if s.Statement.Version != "" {
		os.RemoveAll(filepath.Join(u.dir, s.Statement.Version))
	}
}

func (u *upgrader) result(p map[string]string) {
	u.c.emit(Event{Type: EventUpgradeResult, Operate: EventUpgradeResult.String(), Params: p})
}

// reportLast raises an UpgradeResult event about the upgrade handed over
// when the program last exited (called by Init): status "success" or
// "failed", version, installer ("sdk" or "host"), exitCode and log; on a
// refusal errorCode and errorMsg. An installer still running is reported
// at a later Init.
func (u *upgrader) reportLast() {
	if o, ok := readJSON[outcome](u.path("outcome.json")); ok {
		os.Remove(u.path("outcome.json"))
		u.result(map[string]string{"status": "failed", "version": o.Version, "installer": "sdk", "errorCode": o.ErrorCode, "errorMsg": o.ErrorMsg})
	}
	if s, ok := readJSON[staged](u.path("installing.json")); ok {
		b, err := os.ReadFile(s.Result)
		if err != nil {
			return // not finished (or never started: the program was killed first)
		}
		code := strings.TrimSpace(string(b))
		p := map[string]string{"status": "success", "version": s.Statement.Version, "installer": "sdk", "exitCode": code, "log": s.Log}
		if code != "0" {
			p["status"], p["errorCode"], p["errorMsg"] = "failed", "install_failed", "the installer exited with code "+code+" (see "+s.Log+")"
		}
		u.c.log.Info("last upgrade", "version", s.Statement.Version, "exitCode", code)
		u.cleanUp(s)
		u.result(p)
		return
	}
	if s, ok := readJSON[staged](u.path("staged.json")); ok && u.atLeast(s.Statement.Version) {
		// The host ran the installer itself (Config.NoAutoInstall), or
		// the program was upgraded another way.
		u.cleanUp(s)
		u.result(map[string]string{"status": "success", "version": s.Statement.Version, "installer": "host"})
	}
}

// hostPID is passed to the installer as ISCSDK_HOST_PID.
func hostPID() string { return strconv.Itoa(os.Getpid()) }
