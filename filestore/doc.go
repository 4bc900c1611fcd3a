// Package filestore keeps a cookiesession.RevocationStore in a file, so
// that what was revoked survives a restart of a single instance: with the
// default in-process store, a signed-out cookie would open again after the
// process restarts. A fleet shares revocations through a store such as
// this repository's redisstore instead.
//
//	store, err := filestore.Open("revocations.db")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//	sessions, err := cookiesession.New[Session](keys,
//		cookiesession.WithSubject(func(s Session) string { return s.User }),
//		cookiesession.WithRevocation(store))
//
// It needs only the standard library, and lives beside the library in its
// module.
package filestore
