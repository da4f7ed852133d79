package license_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/iscsdk/iscsdk/internal/device"
	"github.com/iscsdk/iscsdk/internal/license"
)

// A product's key signs a node-locked licence bound to one machine; the
// program verifies it offline with the public key compiled into it.
func Example() {
	// In iscd: the product's signing key (generated once, kept in the store).
	key, err := license.GenerateKey("acme.cad")
	if err != nil {
		panic(err)
	}
	exported := key.Public().String() // what `iscctl key export-public` prints

	// In iscd: a licence for the machine whose fingerprint the program sent.
	machine := "04:7C:16:5E:E3:5D|001B_444A_488B_5CEC.||BFEBFBFF00090672"
	fp, _ := device.Parse(machine)
	issued := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := license.Sign(license.Document{
		ID:        "lic-42",
		Edition:   "pro",
		Features:  []string{"solver", "cam"},
		Kind:      license.KindNodeLocked,
		Device:    device.Hash(fp, "lic-42"),
		IssuedAt:  issued,
		ExpiresAt: issued.AddDate(1, 0, 0),
		Grace:     7 * 24 * time.Hour,
	}, key)
	if err != nil {
		panic(err)
	}

	// In the program: verify with the compiled-in key, this machine's
	// fingerprint and the (trusted) current time.
	keys, err := license.ParsePublicKeys(exported)
	if err != nil {
		panic(err)
	}
	r := license.Verify(s, keys, machine, issued.Add(24*time.Hour))
	fmt.Println(r.Valid, r.Code, r.State, r.Features)

	r = license.Verify(s, keys, "00:11:22:33:44:55|OTHER||", issued.Add(24*time.Hour))
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	// Output:
	// true ok valid [cam solver]
	// {"valid":false,"code":"wrong_device","message":"licence is bound to another device","licenseId":"lic-42","product":"acme.cad","edition":"pro","features":["cam","solver"],"kind":"node-locked","issuedAt":"2026-03-01T12:00:00Z","expiresAt":"2027-03-01T12:00:00Z"}
}
