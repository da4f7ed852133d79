package appinfo_test

import (
	"fmt"

	"github.com/iscsdk/iscsdk/internal/appinfo"
)

// appInfo's userName as the marketplace receives it (a fixed IV here; in
// use Encrypt picks a random one) and as it decrypts it.
func ExampleEncryptIV() {
	v, err := appinfo.EncryptIV("testAccessKey123", appinfo.AES128, "abcdEFGH12345678", "admin@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(v)
	plain, _ := appinfo.Decrypt("testAccessKey123", appinfo.AES128, v)
	fmt.Println(plain)
	// Output:
	// abcdEFGH12345678qONdFppd47Y2XluFqc+tW3F2MY9T7xJvA0V+B5GqfhQ=
	// admin@example.com
}
