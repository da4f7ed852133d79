package device

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fakeRoot is a fake machine: a temporary tree laid out like sysfs, with
// the class directories as symlinks into /sys/devices as on a real system.
type fakeRoot struct {
	t    *testing.T
	root string
}

func newFakeRoot(t *testing.T) fakeRoot { return fakeRoot{t, t.TempDir()} }

func (r fakeRoot) file(p, content string) {
	r.t.Helper()
	full := filepath.Join(r.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r fakeRoot) dir(p string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.root, p), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// link makes p a symlink to target (relative to p's directory, as in sysfs).
func (r fakeRoot) link(p, target string) {
	r.t.Helper()
	full := filepath.Join(r.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		r.t.Fatal(err)
	}
}

// nic adds an interface whose sysfs entry lives at devPath under /sys/devices.
func (r fakeRoot) nic(name, devPath, addr string, physical bool, extra ...string) {
	dev := "/sys/devices/" + devPath + "/net/" + name
	r.file(dev+"/address", addr+"\n")
	r.file(dev+"/type", "1\n")
	if physical {
		r.dir(dev + "/device")
	}
	for _, e := range extra {
		r.dir(dev + "/" + e)
	}
	r.link("/sys/class/net/"+name, "../../devices/"+devPath+"/net/"+name)
}

// disk adds a block device with the given files (relative to its directory).
func (r fakeRoot) disk(name, devPath string, files map[string]string) {
	dev := "/sys/devices/" + devPath + "/block/" + name
	r.dir(dev + "/device")
	r.file(dev+"/removable", "0\n")
	for f, c := range files {
		r.file(dev+"/"+f, c)
	}
	r.link("/sys/block/"+name, "../devices/"+devPath+"/block/"+name)
}

func TestLinuxMACs(t *testing.T) {
	r := newFakeRoot(t)
	r.nic("wlp2s0", "pci0000:00/0000:02:00.0", "00:21:6a:00:00:02", true, "phy80211")
	r.nic("enp3s0", "pci0000:00/0000:03:00.0", "00:1b:21:00:00:03", true)
	r.nic("eno1", "pci0000:00/0000:01:00.0", "00:1b:21:00:00:01", true)
	r.nic("lo", "virtual", "00:00:00:00:00:00", false)
	r.nic("docker0", "virtual", "02:42:ac:11:00:01", false)
	r.nic("veth12ab", "virtual", "00:1b:21:00:00:99", false)
	r.nic("virt0", "virtual", "00:1b:21:00:00:98", true) // a device link, but under /devices/virtual
	r.nic("enx001b", "pci0000:00/0000:00:14.0/usb1/1-1", "00:1b:21:00:00:97", true)
	r.nic("ens9", "pci0000:00/0000:09:00.0", "06:1b:21:00:00:96", true) // locally administered
	r.nic("ens10", "pci0000:00/0000:0a:00.0", "00:00:00:00:00:00", true)
	r.nic("ens11", "pci0000:00/0000:0b:00.0", "01:1b:21:00:00:95", true) // multicast
	r.nic("ens12", "pci0000:00/0000:0c:00.0", "00:1b:21:00:00:94", true)
	r.file("/sys/devices/pci0000:00/0000:0c:00.0/net/ens12/addr_assign_type", "1\n") // random
	r.nic("ib0", "pci0000:00/0000:0d:00.0", "00:1b:21:00:00:93", true)
	r.file("/sys/devices/pci0000:00/0000:0d:00.0/net/ib0/type", "32\n") // InfiniBand
	r.nic("enp4s0", "pci0000:00/0000:04:00.0", "00:1b:21:00:00:aa", true)
	r.file("/sys/devices/pci0000:00/0000:04:00.0/net/enp4s0/bonding_slave/perm_hwaddr", "00:1b:21:00:00:04\n")

	got := sysfs{r.root}.macs()
	want := []string{"00:1B:21:00:00:01", "00:1B:21:00:00:03", "00:1B:21:00:00:04", "00:21:6A:00:00:02"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("macs = %q, want %q (wired sorted by name, then wireless)", got, want)
	}
}

func TestLinuxDisks(t *testing.T) {
	r := newFakeRoot(t)
	r.disk("nvme0n1", "pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1", map[string]string{"device/serial": "  S4EWNX0R123456  \n"})
	r.disk("nvme0n2", "pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n2", map[string]string{"device/serial": "S4EWNX0R123456\n"}) // same controller
	r.disk("sda", "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0", map[string]string{"dev": "8:0\n"})
	r.file("/run/udev/data/b8:0", "S:disk/by-id/ata-X\nE:ID_SERIAL=Samsung_SSD_WD123\nE:ID_SERIAL_SHORT=WD123\n")
	r.disk("sdb", "pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0", map[string]string{"device/wwid": "naa.5000c500a1b2c3d4\n"})
	r.disk("sdc", "pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0", nil)
	r.link("/dev/disk/by-id/wwn-0x5000c500deadbeef", "../../sdc")
	r.link("/dev/disk/by-id/ata-ST1000_Z1D2", "../../sdc")
	r.link("/dev/disk/by-id/ata-ST1000_Z1D2-part1", "../../sdc1")
	r.disk("vda", "pci0000:00/0000:00:02.0/virtio1", map[string]string{"serial": "vol-0abc"})
	r.disk("sdd", "pci0000:00/0000:00:14.0/usb2/2-1/host6/target6:0:0/6:0:0:0", map[string]string{"device/serial": "USBSTICK"})
	r.disk("sde", "pci0000:00/0000:00:17.0/ata5/host4/target4:0:0/4:0:0:0", map[string]string{"device/serial": "CARD", "removable": "1\n"})
	r.disk("loop0", "virtual", map[string]string{"device/serial": "LOOP"})
	r.disk("dm-0", "virtual", map[string]string{"device/serial": "DM"})
	r.disk("zram0", "virtual", map[string]string{"device/serial": "ZRAM"})
	r.disk("sdf", "pci0000:00/0000:00:17.0/ata6/host5/target5:0:0/5:0:0:0", nil) // no id anywhere

	got := sysfs{r.root}.disks()
	want := []string{"S4EWNX0R123456", "WD123", "naa.5000c500a1b2c3d4", "ata-ST1000_Z1D2", "vol-0abc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("disks = %q, want %q", got, want)
	}
}

func TestLinuxBoardFallbacks(t *testing.T) {
	r := newFakeRoot(t)
	s := sysfs{r.root}
	if got := s.board(); got != "" {
		t.Errorf("board with no sources = %q", got)
	}
	steps := []struct{ path, content, want string }{
		{"/var/lib/dbus/machine-id", "dbus-id\n", "dbus-id"},
		{"/etc/machine-id", "machine-id\n", "machine-id"},
		{"/sys/firmware/devicetree/base/serial-number", "10000000abcdef\x00", "10000000abcdef"},
		{"/sys/class/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n", "10000000abcdef"}, // placeholder skipped
		{"/sys/class/dmi/id/product_uuid", "4c4c4544-0042-3510-8052-b2c04f4e4e32\n", "4c4c4544-0042-3510-8052-b2c04f4e4e32"},
		{"/sys/class/dmi/id/board_serial", "To be filled by O.E.M.\n", "4c4c4544-0042-3510-8052-b2c04f4e4e32"},
		{"/sys/class/dmi/id/board_serial", ".7XYZ123.CN1296.\n", ".7XYZ123.CN1296."},
	}
	for _, st := range steps {
		r.file(st.path, st.content)
		if got := s.board(); got != st.want {
			t.Errorf("after writing %s: board = %q, want %q", st.path, got, st.want)
		}
	}
}

func TestLinuxFingerprintFormatted(t *testing.T) {
	r := newFakeRoot(t)
	r.nic("eno1", "pci0000:00/0000:01:00.0", "04:7c:16:5e:e3:5d", true)
	r.disk("nvme0n1", "pci0000:00/0000:01:00.0/nvme/nvme0/nvme0n1", map[string]string{"device/serial": "001b_444a_488b_5cec."})
	fp := sysfs{r.root}.fingerprint()
	fp.CPU = "bfebfbff00090672"
	if got, want := format(fp), "04:7C:16:5E:E3:5D|001B_444A_488B_5CEC.||BFEBFBFF00090672"; got != want {
		t.Errorf("fingerprint = %q, want %q", got, want)
	}
}
