// Package device builds, parses and compares device fingerprints: the
// "MAC|diskId|boardId|cpuId" strings (docs/licensing.md, "Device
// fingerprint") that bind a node-locked licence to a machine.
//
// # Format
//
// Four parts separated by "|", upper-cased; several MACs or disks are
// comma-separated; a part that could not be read is empty; at most MaxLen
// (5 KB) bytes. Example: "04:7C:16:5E:E3:5D|001B_444A_488B_5CEC.||BFEBFBFF00090672".
//
// # Sources on Linux
//
// MAC: the address of every physical network interface in /sys/class/net,
// that is one with a "device" link that does not resolve under
// /sys/devices/virtual or a USB bus, of type 1 (Ethernet and Wi-Fi), whose
// name is not a software one (lo, docker*, veth*, br-*, virbr*, tun*, tap*,
// …), and whose address is neither random (addr_assign_type 1), all zero,
// multicast nor locally administered. A bond member's permanent address is
// used. Only physical NICs are listed, wired ones first and then wireless
// ones (those with a "wireless" or "phy80211" entry), each group sorted by
// interface name.
//
// Disk: one id per fixed disk in /sys/block, in device-name order,
// skipping loop, ram, zram, dm-, md, nbd, sr, fd, zd and rbd devices,
// entries without a "device" link, under /sys/devices/virtual or on a USB
// bus, and those with removable = 1. The id is the first found of
// /sys/block/NAME/device/serial (NVMe, some SCSI), /sys/block/NAME/serial
// (virtio), udev's ID_SERIAL_SHORT or ID_SERIAL (/run/udev/data/bMAJ:MIN),
// /sys/block/NAME/wwid or device/wwid, and the name of a
// /dev/disk/by-id link to the disk (an "ata-…" or "nvme-…" name before a
// "wwn-…" one).
//
// Board: the first real value (firmware placeholders such as "To be filled
// by O.E.M." and all-zero ids are skipped) of
// /sys/class/dmi/id/board_serial, /sys/class/dmi/id/product_uuid (both
// readable by root only), /sys/firmware/devicetree/base/serial-number
// (ARM boards), /etc/machine-id and /var/lib/dbus/machine-id. So the same
// machine has one board part for root and another for other users; the
// drift rule absorbs that one difference.
//
// CPU: on amd64 (any OS), EDX then EAX of CPUID leaf 1, as 16 upper-case
// hex digits: feature flags and processor signature, e.g.
// "BFEBFBFF00090672". Elsewhere the part is empty.
//
// # Sources on Windows
//
// Read through golang.org/x/sys/windows from system DLLs only
// (info_windows.go):
//
// MAC: the adapters GetAdaptersAddresses lists, of type Ethernet or
// IEEE 802.11, with a 6-byte address that is neither all zero, multicast
// nor locally administered, and physical: the adapter's entry in the
// network adapter class of the registry
// (HKLM\SYSTEM\CurrentControlSet\Control\Class\{4d36e972-…}\NNNN, matched
// by NetCfgInstanceId) has NCF_PHYSICAL and not NCF_VIRTUAL in
// Characteristics and a DeviceInstanceID (or ComponentId) not on USB\,
// ROOT\ or SWD\. An adapter without such an entry (Wine) counts when its
// description names no software adapter (virtual, VMware, Hyper-V, TAP, VPN,
// loopback, Bluetooth, WAN Miniport, …). Wired adapters first, then
// wireless ones, each sorted by the adapter's GUID name.
//
// Disk: the serial number of the system volume (the one holding the
// Windows directory) from GetVolumeInformationW, formatted as `vol` prints
// it: "1A2B-3C4D". One entry.
//
// Board: the serial number of the first SMBIOS baseboard (structure type 2)
// in GetSystemFirmwareTable('RSMB'), a real value only (the placeholders
// above are skipped); else the MachineGuid of
// HKLM\SOFTWARE\Microsoft\Cryptography (64-bit view), which Windows setup
// writes once per installation. Both are readable without elevation.
//
// CPU: as on Linux.
//
// Other systems have no sources yet beyond the CPU.
//
// # The drift rule
//
// Hardware changes: a NIC is added, a disk replaced. Same(stored, current)
// decides whether current is still the device stored was taken from. A
// list part (MACs, disks) matches when the two lists share an entry; a
// single part (board, CPU) matches when both are equal and non-empty. The
// fingerprints are the same device when at least 2 of the 4 parts match.
// When either has fewer than 2 non-empty parts (a sparse fingerprint),
// every non-empty part of the stored one must match instead; a stored
// fingerprint with no parts at all matches nothing.
//
// # Hashes
//
// A licence carries no raw hardware ids: Hash replaces every value with a
// salted SHA-256 (the salt is the licence id), and Hashed.Matches applies
// the same drift rule to a fingerprint presented later.
package device
