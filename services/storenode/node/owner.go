package node

import "time"

// ownerCheckWait is how long a storenode listens for other clusters' answers.
const ownerCheckWait = 150 * time.Millisecond
