package main

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summarize(d)
	if s.Count != 100 || s.P50ms != 50 || s.P99ms != 99 || s.MaxMs != 100 {
		t.Fatalf("summarize = %+v", s)
	}
	if summarize(nil).Count != 0 {
		t.Fatal("empty summary")
	}
}

func TestSampleProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	s, err := sampleProc(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB <= 0 || s.Threads <= 0 || s.FDs <= 0 || s.fdDetail == nil {
		t.Fatalf("sample = %+v", s)
	}
	if openFilesLimit(os.Getpid()) == "?" {
		t.Fatal("no open files limit")
	}
}

func TestSummarizeLog(t *testing.T) {
	path := t.TempDir() + "/server.log"
	log := `time=x level=WARN msg="a thing" component=storenode
time=x level=WARN msg="a thing" component=storenode
time=x level=ERROR msg=broken err=x
time=x level=INFO msg=fine
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	ls := summarizeLog(path)
	if ls.Warnings != 2 || ls.Errors != 1 || len(ls.Samples) != 2 {
		t.Fatalf("summary = %+v", ls)
	}
}
