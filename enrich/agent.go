package enrich

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fsaudit/fsaudit/record"
)

// machineID reads the host's machine id (machine-id(5)) from its root:
// 32 hex digits, or "" when the file is missing or holds something else.
func machineID(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "etc/machine-id"))
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(b))
	if len(id) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(id); err != nil {
		return ""
	}
	return id
}

// newAgent names this agent: its version, an id stable across its runs on
// the host (derived from the machine id, which it does not disclose), and
// an id drawn for this run, whose 8 bytes begin every event id.
func newAgent(version, machine string) (record.Agent, [8]byte, error) {
	var run [8]byte
	if _, err := rand.Read(run[:]); err != nil {
		return record.Agent{}, run, fmt.Errorf("drawing the run's id: %w", err)
	}
	a := record.Agent{Version: version, EphemeralID: hex.EncodeToString(run[:])}
	if machine != "" {
		sum := sha256.Sum256([]byte("fsaudit agent id\x00" + machine))
		a.ID = uuidLayout(sum[:16])
	}
	return a, run, nil
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
