package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := WriteFile(dir, "f", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, "f", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "two" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f.tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func TestWriteFileThatCannotBeWrittenKeepsTheOld(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	if err := WriteFile(dir, "f", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(dir, "f.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, "f", []byte("new")); err == nil {
		t.Fatal("a write to a full disk succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "old" {
		t.Fatalf("the old file became %q", b)
	}
}
