// Command sessionkey prints a fresh secret for SESSION_KEYS.
//
//	go run github.com/ce967478/cookiesession/cmd/sessionkey
package main

import (
	"fmt"

	"github.com/ce967478/cookiesession"
)

func main() {
	fmt.Println(cookiesession.EncodeSecret(cookiesession.GenerateSecret()))
}
