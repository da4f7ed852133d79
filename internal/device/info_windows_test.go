package device

import (
	"regexp"
	"testing"
)

// Every Windows installation has a system volume serial and a MachineGuid,
// so the disk and board parts are never empty there. (Run under Wine by
// capi/winetest.)
func TestWindowsSources(t *testing.T) {
	macs, disks, b := adapterMACs(), systemVolumeSerial(), board()
	t.Logf("MACs %q, system volume %q, board %q (SMBIOS baseboard %q, MachineGuid %q)",
		macs, disks, b, smbiosBaseboardSerial(firmwareTable(rsmb)), machineGUID())
	if len(disks) != 1 || !regexp.MustCompile(`^[0-9A-F]{4}-[0-9A-F]{4}$`).MatchString(disks[0]) {
		t.Errorf("system volume serial %q, want one XXXX-XXXX", disks)
	}
	if b == "" {
		t.Error("no board part: neither an SMBIOS baseboard serial nor a MachineGuid")
	}
	for _, m := range macs {
		if !regexp.MustCompile(`^([0-9A-F]{2}:){5}[0-9A-F]{2}$`).MatchString(m) {
			t.Errorf("MAC %q", m)
		}
	}
}

func TestIsPhysical(t *testing.T) {
	tests := []struct {
		class adapterClass
		desc  string
		want  bool
	}{
		{adapterClass{ncfPhysical, `PCI\VEN_8086&DEV_15F3`}, "Intel(R) Ethernet Controller I225-V", true},
		{adapterClass{ncfPhysical | 0x80, `PCI\VEN_14E4&DEV_43A0`}, "Broadcom 802.11ac", true},
		{adapterClass{ncfVirtual, `ROOT\VMS_MP\0000`}, "Hyper-V Virtual Ethernet Adapter", false},
		{adapterClass{ncfPhysical, `USB\VID_0BDA&PID_8153`}, "Realtek USB GbE Family Controller", false},
		{adapterClass{0x0, `SWD\MSRRAS\MS_NDISWANIP`}, "WAN Miniport (IP)", false},
		{adapterClass{}, "Intel(R) PRO/1000", true},     // no registry entry (Wine): the description decides
		{adapterClass{}, "VirtualBox Host-Only", false}, // ...and names software adapters
		{adapterClass{}, "TAP-Windows Adapter V9", false},
	}
	for _, tt := range tests {
		if got := isPhysical(tt.class, tt.desc); got != tt.want {
			t.Errorf("isPhysical(%+v, %q) = %v, want %v", tt.class, tt.desc, got, tt.want)
		}
	}
}
