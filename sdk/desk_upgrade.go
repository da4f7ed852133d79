package sdk

import (
	"context"
	"fmt"
)

// CheckNewVersions asks the service whether a newer version of the
// program (Config.AppVersion, a semantic version) exists for this
// platform. It returns at once; an UpgradeNotice event with the returned
// request id answers: available "true" or "false"; when true also
// version, notes, forced, size, current; on failure errorCode, errorMsg.
// A version the user declined (UpgradeNotify(false)) is not offered again
// unless it becomes forced. A forced upgrade is downloaded and staged at
// once and announced by an Update event with fromForceWin "true"; an
// optional one waits for UpgradeNotify.
func (d *Desk) CheckNewVersions() (uint64, error) {
	c := d.c
	if c.shut.Load() {
		return 0, ErrShutOut
	}
	id := c.nextRequest.Add(1)
	c.goAsync(func(ctx context.Context) { c.upgrades.check(ctx, id, false) })
	return id, nil
}

// UpgradeNotify answers the latest optional upgrade offer. true: the
// package is downloaded in the background (resumable), its hash and
// signature are checked against Config.ReleaseKeys, it is staged in the
// workspace, and an Update event with fromForceWin "false" (and the
// request id of the CheckNewVersions that offered it) says so; it is
// installed after the program exits (see Config.NoAutoInstall). false:
// that version is not offered again unless it becomes forced. Without an
// offer, or for a forced one answered false, it returns ErrInvalidArgument.
func (d *Desk) UpgradeNotify(upgrade bool) error {
	c := d.c
	if c.shut.Load() {
		return ErrShutOut
	}
	u := c.upgrades
	u.mu.Lock()
	o, id := u.offer, u.offerReq
	if o != nil && (upgrade || !o.Forced) {
		u.offer = nil
	}
	u.mu.Unlock()
	switch {
	case o == nil:
		return fmt.Errorf("%w: no upgrade was offered (call CheckNewVersions first)", ErrInvalidArgument)
	case !upgrade && o.Forced:
		return fmt.Errorf("%w: the upgrade to %s is forced and cannot be declined", ErrInvalidArgument, o.Version)
	case !upgrade:
		return u.decline(o.Version)
	}
	c.goAsync(func(ctx context.Context) { u.stage(ctx, id, *o) })
	return nil
}
