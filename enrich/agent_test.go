package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The ids derived from the machine id are stable, differ by purpose, and
// do not contain it; a machine id that is not 32 hex digits, or a link,
// is none.
func TestMachineIDs(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	const id = "0123456789abcdef0123456789abcdef"
	write := func(s string) {
		os.Remove(filepath.Join(root, "etc/machine-id"))
		if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(id + "\n")
	if got := machineID(root); got != id {
		t.Fatalf("machine id %q", got)
	}
	host, agent := appID(id, "fsaudit host id"), appID(id, "fsaudit agent id")
	if host == agent || host != appID(id, "fsaudit host id") || len(host) != 36 || strings.Contains(host+agent, id[:8]) {
		t.Errorf("host %s agent %s", host, agent)
	}
	if appID("", "x") != "" {
		t.Error("an id without a machine id")
	}
	for _, bad := range []string{"", "not hex at all, not hex at all!!", id[:31]} {
		write(bad)
		if got := machineID(root); got != "" {
			t.Errorf("%q read as %q", bad, got)
		}
	}
	os.Remove(filepath.Join(root, "etc/machine-id"))
	other := filepath.Join(t.TempDir(), "machine-id")
	os.WriteFile(other, []byte(id), 0o644)
	if err := os.Symlink(other, filepath.Join(root, "etc/machine-id")); err != nil {
		t.Fatal(err)
	}
	if got := machineID(root); got != "" {
		t.Errorf("followed a link: %q", got)
	}
}
