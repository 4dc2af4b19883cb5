package enrich

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/fsaudit/fsaudit/record"
)

// machineID reads the host's machine id (machine-id(5)): root's
// /etc/machine-id, else, for an agent in a container of its own that
// shares the host's pid namespace, pid 1's; a symbolic link is not
// followed there (its target would name the agent's own file). It is ""
// when none holds 32 hex digits.
func machineID(root string) string {
	paths := []string{filepath.Join(root, "etc/machine-id")}
	if root == "/" {
		paths = append(paths, "/proc/1/root/etc/machine-id")
	}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		b := make([]byte, 64)
		n, _ := f.Read(b)
		f.Close()
		id := strings.TrimSpace(string(b[:n]))
		if _, err := hex.DecodeString(id); err == nil && len(id) == 32 {
			return id
		}
	}
	return ""
}

// appID derives an id for purpose from the machine id without disclosing
// it, as machine-id(5) asks of an id that leaves the host: HMAC-SHA-256
// keyed by the machine id, over purpose, in UUID layout; "" without one.
func appID(machine, purpose string) string {
	if machine == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(machine))
	m.Write([]byte(purpose))
	return uuidLayout(m.Sum(nil)[:16])
}

// newAgent names this agent: its version, an id stable across its runs on
// the host (derived from the machine id), and an id drawn for this run,
// whose 8 bytes begin every event id.
func newAgent(version, machine string) (record.Agent, [8]byte, error) {
	var run [8]byte
	if _, err := rand.Read(run[:]); err != nil {
		return record.Agent{}, run, fmt.Errorf("drawing the run's id: %w", err)
	}
	return record.Agent{Version: version, ID: appID(machine, "fsaudit agent id"), EphemeralID: hex.EncodeToString(run[:])}, run, nil
}

// uuidLayout writes 16 bytes as 8-4-4-4-12 hex digits.
func uuidLayout(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// entityID names a process uniquely on the host across its life (ECS
// process.entity_id): the boot, its pid and its start time.
func entityID(boot string, pid uint32, start uint64) string {
	b := make([]byte, 0, len(boot)+32)
	b = append(b, boot...)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(pid), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, start, 10)
	return string(b)
}
