package lifecycle

import (
	"os"
	"syscall"
)

// Failpoints let the crash tests kill a storenode at an exact step of a
// store's creation or removal, to prove that reconciliation finishes the job
// after a restart. They are read from LOGBOOK_FAILPOINT once at start-up and
// do nothing unless set:
//
//	create-before-start   SIGKILL after a store entered the registry, before its replica starts here
//	remove-before-report  SIGKILL after a replica's data was deleted, before the removal is reported
var failpoint = os.Getenv("LOGBOOK_FAILPOINT")

// crashAt kills this process with SIGKILL, as a crash would, when the named
// failpoint is armed.
func crashAt(name string) {
	if failpoint == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
