//go:build windows

package device

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// collect reads the MAC, disk and board parts from Windows' own APIs (the
// package doc lists them); Info adds the CPU. Only system DLLs are used:
// iphlpapi (GetAdaptersAddresses), kernel32, advapi32 (the registry).
func collect() Fingerprint {
	return Fingerprint{MACs: adapterMACs(), Disks: systemVolumeSerial(), Board: board()}
}

// ---- MAC ----

// The network adapter class; each adapter has a numbered subkey whose
// NetCfgInstanceId is the adapter's name (a GUID) in GetAdaptersAddresses.
const netClassKey = `SYSTEM\CurrentControlSet\Control\Class\{4d36e972-e325-11ce-bfc1-08002be10318}`

// Characteristics flags of a network adapter (netcfgx.h).
const (
	ncfVirtual  = 0x1
	ncfPhysical = 0x4
)

// virtualAdapterWords, in an adapter's description, mark software adapters
// when the adapter class in the registry does not say (see isPhysical).
var virtualAdapterWords = []string{
	"virtual", "vmware", "virtualbox", "hyper-v", "tap-", "tap adapter", "vpn", "loopback",
	"bluetooth", "wan miniport", "teredo", "isatap", "pseudo", "wireguard", "tunnel", "npcap",
}

type adapter struct {
	name     string // the adapter's GUID, stable across reboots
	wireless bool
	mac      string
}

// adapterMACs returns the addresses of the physical Ethernet and Wi-Fi
// adapters: wired ones first, then wireless, each group sorted by the
// adapter's GUID name.
func adapterMACs() []string {
	flags := uint32(windows.GAA_FLAG_SKIP_UNICAST | windows.GAA_FLAG_SKIP_ANYCAST |
		windows.GAA_FLAG_SKIP_MULTICAST | windows.GAA_FLAG_SKIP_DNS_SERVER)
	var list *windows.IpAdapterAddresses
	for size := uint32(16 << 10); ; {
		buf := make([]byte, size)
		list = (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, flags, 0, list, &size)
		if err == nil {
			break
		}
		if err != windows.ERROR_BUFFER_OVERFLOW || size <= uint32(len(buf)) {
			return nil
		}
	}
	class := adapterClasses()
	var found []adapter
	for a := list; a != nil; a = a.Next {
		if a.IfType != windows.IF_TYPE_ETHERNET_CSMACD && a.IfType != windows.IF_TYPE_IEEE80211 {
			continue
		}
		if a.PhysicalAddressLength != 6 {
			continue
		}
		hw := net.HardwareAddr(slices.Clone(a.PhysicalAddress[:6]))
		name := windows.BytePtrToString(a.AdapterName)
		if !usableMAC(hw) || !isPhysical(class[strings.ToLower(name)], windows.UTF16PtrToString(a.Description)) {
			continue
		}
		found = append(found, adapter{name: name, wireless: a.IfType == windows.IF_TYPE_IEEE80211, mac: strings.ToUpper(hw.String())})
	}
	slices.SortFunc(found, func(x, y adapter) int {
		if x.wireless != y.wireless {
			if x.wireless {
				return 1
			}
			return -1
		}
		return strings.Compare(x.name, y.name)
	})
	var macs []string
	for _, a := range found {
		if !slices.Contains(macs, a.mac) {
			macs = append(macs, a.mac)
		}
	}
	return macs
}

// adapterClass is what the registry's network adapter class says about one
// adapter.
type adapterClass struct {
	characteristics uint32
	device          string // DeviceInstanceID or ComponentId, e.g. PCI\VEN_8086&...
}

// adapterClasses reads the network adapter class, keyed by lower-case
// NetCfgInstanceId. Empty if it cannot be read.
func adapterClasses() map[string]adapterClass {
	out := map[string]adapterClass{}
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, netClassKey, registry.ENUMERATE_SUB_KEYS|registry.WOW64_64KEY)
	if err != nil {
		return out
	}
	defer k.Close()
	names, _ := k.ReadSubKeyNames(-1)
	for _, n := range names {
		sub, err := registry.OpenKey(k, n, registry.QUERY_VALUE|registry.WOW64_64KEY)
		if err != nil {
			continue // "Properties" is not readable by users
		}
		id, _, err := sub.GetStringValue("NetCfgInstanceId")
		if err == nil {
			chars, _, _ := sub.GetIntegerValue("Characteristics")
			dev, _, _ := sub.GetStringValue("DeviceInstanceID")
			if dev == "" {
				dev, _, _ = sub.GetStringValue("ComponentId")
			}
			out[strings.ToLower(id)] = adapterClass{characteristics: uint32(chars), device: dev}
		}
		sub.Close()
	}
	return out
}

// isPhysical decides whether an adapter is a NIC of this machine. Where the
// registry describes it (always, on Windows), it must be flagged physical
// and not virtual, and not sit on USB (a dongle that comes and goes, as on
// Linux). Where it does not (Wine), the description must not name a
// software adapter.
func isPhysical(c adapterClass, description string) bool {
	if c != (adapterClass{}) {
		dev := strings.ToUpper(c.device)
		return c.characteristics&ncfPhysical != 0 && c.characteristics&ncfVirtual == 0 &&
			!strings.HasPrefix(dev, "USB\\") && !strings.HasPrefix(dev, "ROOT\\") && !strings.HasPrefix(dev, "SWD\\")
	}
	d := strings.ToLower(description)
	for _, w := range virtualAdapterWords {
		if strings.Contains(d, w) {
			return false
		}
	}
	return true
}

// ---- disk ----

// systemVolumeSerial returns the serial number of the volume Windows is
// installed on, as `vol C:` prints it ("1A2B-3C4D"). It is set when the
// volume is formatted.
func systemVolumeSerial() []string {
	dir, err := windows.GetSystemWindowsDirectory()
	if err != nil {
		return nil
	}
	root, err := windows.UTF16PtrFromString(filepath.VolumeName(dir) + `\`)
	if err != nil {
		return nil
	}
	var serial uint32
	if windows.GetVolumeInformation(root, nil, 0, &serial, nil, nil, nil, 0) != nil || serial == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%04X-%04X", serial>>16, serial&0xFFFF)}
}

// ---- board ----

var procGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// rsmb is the 'RSMB' firmware table provider: the raw SMBIOS table.
const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'

// board returns the baseboard serial from SMBIOS (readable by every user on
// Windows), else the MachineGuid that Windows setup writes once per
// installation.
func board() string {
	if v := smbiosBaseboardSerial(firmwareTable(rsmb)); v != "" {
		return v
	}
	return machineGUID()
}

// firmwareTable returns a firmware table of provider, or nil.
func firmwareTable(provider uint32) []byte {
	if procGetSystemFirmwareTable.Find() != nil {
		return nil
	}
	size, _, _ := procGetSystemFirmwareTable.Call(uintptr(provider), 0, 0, 0)
	if size == 0 || size > 1<<20 {
		return nil
	}
	buf := make([]byte, size)
	n, _, _ := procGetSystemFirmwareTable.Call(uintptr(provider), 0, uintptr(unsafe.Pointer(&buf[0])), size)
	if n == 0 || n > size {
		return nil
	}
	return buf[:n]
}

func machineGUID() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return ""
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil || !usableBoardID(v) {
		return ""
	}
	return v
}
