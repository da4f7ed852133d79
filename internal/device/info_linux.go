package device

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func collect() Fingerprint { return sysfs{root: "/"}.fingerprint() }

// sysfs reads the machine's identity below root ("/" in production, a
// fake tree in tests).
type sysfs struct{ root string }

// fingerprint returns the MAC, disk and board parts; Info adds the CPU.
func (s sysfs) fingerprint() Fingerprint {
	return Fingerprint{MACs: s.macs(), Disks: s.disks(), Board: s.board()}
}

func (s sysfs) path(p string) string { return filepath.Join(s.root, p) }

// read returns the trimmed contents of a small file, or "" if it cannot be
// read (absent, or readable by root only).
func (s sysfs) read(p string) string {
	f, err := os.Open(s.path(p))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return ""
	}
	return strings.Trim(string(b), " \t\r\n\x00")
}

func (s sysfs) exists(p string) bool {
	_, err := os.Stat(s.path(p))
	return err == nil
}

// isVirtualDevice reports whether the sysfs entry p (a symlink into
// /sys/devices) is a software device, or sits on a USB bus (a dongle or a
// stick that comes and goes).
func (s sysfs) isVirtualDevice(p string) bool {
	target, err := filepath.EvalSymlinks(s.path(p))
	if err != nil {
		return false
	}
	target = filepath.ToSlash(target)
	return strings.Contains(target, "/devices/virtual/") || strings.Contains(target, "/usb")
}

// virtualNICPrefixes name interfaces that software creates. They normally
// have no device link either; the names are a second guard.
var virtualNICPrefixes = []string{
	"lo", "docker", "veth", "br-", "virbr", "vnet", "vmnet", "vboxnet", "tun", "tap",
	"wg", "zt", "cni", "flannel", "cali", "lxc", "lxd", "ifb", "dummy", "bond", "team",
}

// macs returns the addresses of the physical network interfaces: wired
// ones first, then wireless, each group sorted by interface name.
func (s sysfs) macs() []string {
	entries, _ := os.ReadDir(s.path("/sys/class/net"))
	var wired, wireless []string
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		dir := "/sys/class/net/" + name
		if hasAnyPrefix(name, virtualNICPrefixes) || !s.exists(dir+"/device") || s.isVirtualDevice(dir) {
			continue
		}
		if t := s.read(dir + "/type"); t != "" && t != "1" { // 1: ARPHRD_ETHER (Wi-Fi too)
			continue
		}
		if s.read(dir+"/addr_assign_type") == "1" { // NET_ADDR_RANDOM
			continue
		}
		addr := s.read(dir + "/bonding_slave/perm_hwaddr") // a bond rewrites its members' address
		if addr == "" {
			addr = s.read(dir + "/address")
		}
		hw, err := net.ParseMAC(addr)
		if err != nil || len(hw) != 6 || !usableMAC(hw) {
			continue
		}
		mac := strings.ToUpper(hw.String())
		if s.exists(dir+"/wireless") || s.exists(dir+"/phy80211") {
			wireless = append(wireless, mac)
		} else {
			wired = append(wired, mac)
		}
	}
	return append(wired, wireless...)
}

// virtualDiskPrefixes name block devices that are not disks of this
// machine: loop files, RAM disks, device-mapper, software RAID, network
// block devices, optical and floppy drives, ZFS volumes.
var virtualDiskPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd", "zd", "rbd"}

// disks returns an id for every fixed, non-virtual disk, in the order of
// the kernel's device names.
func (s sysfs) disks() []string {
	entries, _ := os.ReadDir(s.path("/sys/block"))
	var ids []string
	for _, e := range entries {
		name := e.Name()
		dir := "/sys/block/" + name
		if hasAnyPrefix(name, virtualDiskPrefixes) || !s.exists(dir+"/device") || s.isVirtualDevice(dir) {
			continue
		}
		if s.read(dir+"/removable") == "1" {
			continue
		}
		if id := s.diskID(name); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// diskID returns the first of: the serial the driver publishes (NVMe and
// SCSI under device/, virtio directly), the serial udev recorded
// (ID_SERIAL_SHORT, else ID_SERIAL), the World Wide Id, and the name of the
// disk's /dev/disk/by-id link.
func (s sysfs) diskID(name string) string {
	dir := "/sys/block/" + name
	for _, p := range []string{dir + "/device/serial", dir + "/serial"} {
		if v := s.read(p); v != "" {
			return v
		}
	}
	if v := s.udevSerial(s.read(dir + "/dev")); v != "" {
		return v
	}
	for _, p := range []string{dir + "/wwid", dir + "/device/wwid"} {
		if v := s.read(p); v != "" {
			return v
		}
	}
	return s.byID(name)
}

// udevSerial reads ID_SERIAL_SHORT (else ID_SERIAL) from udev's database
// entry for the block device with number dev ("8:0").
func (s sysfs) udevSerial(dev string) string {
	if dev == "" || strings.ContainsAny(dev, "/.") {
		return ""
	}
	f, err := os.Open(s.path("/run/udev/data/b" + dev))
	if err != nil {
		return ""
	}
	defer f.Close()
	var short, long string
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "E:ID_SERIAL_SHORT="); ok {
			short = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "E:ID_SERIAL="); ok {
			long = strings.TrimSpace(v)
		}
	}
	if short != "" {
		return short
	}
	return long
}

// byID returns the name of a /dev/disk/by-id link to the disk, preferring a
// bus-and-serial name ("ata-…", "nvme-…") to a WWN or EUI one.
func (s sysfs) byID(name string) string {
	entries, _ := os.ReadDir(s.path("/dev/disk/by-id"))
	var fallback string
	for _, e := range entries {
		target, err := os.Readlink(s.path("/dev/disk/by-id/" + e.Name()))
		if err != nil || filepath.Base(target) != name {
			continue
		}
		if !hasAnyPrefix(e.Name(), []string{"wwn-", "nvme-eui.", "nvme-nvme."}) {
			return e.Name()
		}
		if fallback == "" {
			fallback = e.Name()
		}
	}
	return fallback
}

// boardSources are tried in order; the first that holds a real value wins.
// The first two are readable by root only.
var boardSources = []string{
	"/sys/class/dmi/id/board_serial",
	"/sys/class/dmi/id/product_uuid",
	"/sys/firmware/devicetree/base/serial-number",
	"/etc/machine-id",
	"/var/lib/dbus/machine-id",
}

func (s sysfs) board() string {
	for _, p := range boardSources {
		if v := s.read(p); usableBoardID(v) {
			return v
		}
	}
	return ""
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
