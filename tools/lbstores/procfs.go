package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/logbookdb/logbook/tools/internal/child"
)

// procSample is what /proc says about the server process at one moment.
type procSample struct {
	At       time.Time
	RSSKiB   int64         // VmRSS
	HWMKiB   int64         // VmHWM: peak RSS since the process started
	AnonKiB  int64         // RssAnon: heap, stacks (Go and C allocations)
	FileKiB  int64         // RssFile: mapped files (the binary)
	Threads  int           // OS threads
	FDs      int           // open file descriptors
	CPU      time.Duration // utime + stime since the process started
	fdDetail *fdBreakdown  // only when asked for
}

// fdBreakdown sorts the open descriptors by what they point to.
type fdBreakdown struct {
	StoreFiles int `json:"store_files"` // under <data>/storenode/stores/
	RaftFiles  int `json:"raft_files"`  // under <data>/storenode/raft/ (dragonboat's LogDB)
	Sockets    int `json:"sockets"`
	Other      int `json:"other"` // pipes, eventpoll, eventfd, anything else
}

// sampleProc reads /proc/<pid>/status, /stat and /fd.
func sampleProc(pid int, withFDs bool) (procSample, error) {
	s := procSample{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			s.RSSKiB = n
		case "VmHWM":
			s.HWMKiB = n
		case "RssAnon":
			s.AnonKiB = n
		case "RssFile":
			s.FileKiB = n
		case "Threads":
			s.Threads = int(n)
		}
	}
	if s.CPU, err = child.CPU(pid); err != nil {
		return s, err
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return s, err
	}
	s.FDs = len(entries)
	if withFDs {
		b := &fdBreakdown{}
		for _, e := range entries {
			target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
			switch {
			case err != nil:
				b.Other++ // closed between ReadDir and Readlink
			case strings.HasPrefix(target, "socket:"):
				b.Sockets++
			case strings.Contains(target, "/storenode/stores/"):
				b.StoreFiles++
			case strings.Contains(target, "/storenode/raft"):
				b.RaftFiles++
			default:
				b.Other++
			}
		}
		s.fdDetail = b
	}
	return s, nil
}

// cpuPct is the CPU used between two samples in % of one core.
func cpuPct(a, b procSample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

// diskUsage is the space (allocated blocks) and the number of files under dir.
type diskUsage struct {
	Bytes int64 `json:"bytes"`
	Files int   `json:"files"`
	Dirs  int   `json:"dirs"`
}

func measureDisk(dir string) diskUsage {
	var u diskUsage
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking (compaction, WAL recycling)
		}
		if d.IsDir() {
			u.Dirs++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		u.Files++
		u.Bytes += allocated(info)
		return nil
	})
	return u
}

// openFilesLimit is the soft "Max open files" limit of the process.
func openFilesLimit(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			if f := strings.Fields(strings.TrimPrefix(line, "Max open files")); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "?"
}
