package sm

import (
	"os"
	"syscall"
)

// failpoint lets a crash test kill a storenode at an exact step of a
// replica's recovery from a Raft snapshot, to prove that the half-replaced
// range is dropped and recovered again after a restart. Read from
// LOGBOOK_FAILPOINT once at start-up (as lifecycle's failpoints); does
// nothing unless set:
//
//	recover-midway  SIGKILL once a recovery has committed part of the snapshot's keys
var failpoint = os.Getenv("LOGBOOK_FAILPOINT")

// recoverMidwayKeys is how many keys a recovery commits before the
// recover-midway failpoint kills the process.
const recoverMidwayKeys = 64

// crashAt kills this process with SIGKILL, as a crash would, when the named
// failpoint is armed.
func crashAt(name string) {
	if failpoint == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
