package specs

import (
	"os"
	"testing"
)

// ECSForTest loads the ECS data for a test: a test skips without it,
// except in CI, which always has it.
func ECSForTest(t testing.TB, version string) *ECS {
	t.Helper()
	dir, err := Dir()
	if err == nil {
		var e *ECS
		if e, err = LoadECS(dir, version); err == nil {
			return e
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("ECS %s: %v", version, err)
	}
	t.Skipf("ECS %s: %v (CI has ../shared/spec-ref)", version, err)
	return nil
}
