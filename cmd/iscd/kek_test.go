package main

import (
	"os"
	"testing"

	"github.com/iscsdk/iscsdk/internal/envelope"
)

// $ISCD_KEK is read once and taken out of iscd's environment, so that the
// processes it starts (the dev worker's solvers) do not inherit the key.
func TestKEKFromTheEnvironmentIsNotPassedOn(t *testing.T) {
	text, err := envelope.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envKEK, text)
	k, err := loadKEK("", false)
	if err != nil || k == nil {
		t.Fatalf("loadKEK: %v, %v", k, err)
	}
	if v, ok := os.LookupEnv(envKEK); ok {
		t.Fatalf("$%s is still set (%d bytes)", envKEK, len(v))
	}
	t.Setenv(envKEK, "ISKEK1.zz.AAAA")
	if _, err := loadKEK("", false); err == nil {
		t.Fatal("a malformed $ISCD_KEK was taken")
	}
}
